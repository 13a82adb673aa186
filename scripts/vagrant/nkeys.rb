# NATS nkey user seeds for the Vagrant lab, generated on the Vagrant host by a trigger before
# `vagrant up`/`provision` (no Node needed on the host). An Ed25519 seed is any 32 random bytes;
# the encoding is the nkeys one: base32(prefix bytes + seed + CRC16/XMODEM little-endian).
# The rsync synced folder carries them to every node; each node installs only its own.
require "securerandom"
require "fileutils"

module PlumbNkeys
  PREFIX_SEED = 18 << 3 # 'S'
  PREFIX_USER = 20 << 3 # 'U'
  B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

  def self.crc16(bytes)
    crc = 0
    bytes.each_byte do |b|
      crc ^= b << 8
      8.times { crc = (crc & 0x8000).zero? ? (crc << 1) & 0xffff : ((crc << 1) ^ 0x1021) & 0xffff }
    end
    crc
  end

  def self.base32(bytes)
    bits = bytes.unpack1("B*")
    bits += "0" * ((5 - bits.length % 5) % 5)
    bits.scan(/.{5}/).map { |c| B32[c.to_i(2)] }.join
  end

  def self.user_seed
    raw = SecureRandom.random_bytes(32)
    body = [PREFIX_SEED | (PREFIX_USER >> 5), (PREFIX_USER & 31) << 3].pack("C2") + raw
    base32(body + [crc16(body)].pack("v"))
  end

  # Writes <dir>/<name>.nk (0600) for each name that has none yet.
  def self.ensure(dir, names)
    FileUtils.mkdir_p(dir, mode: 0o700)
    names.each do |n|
      path = File.join(dir, "#{n}.nk")
      next if File.exist?(path)
      File.open(path, File::WRONLY | File::CREAT | File::EXCL, 0o600) { |f| f.write(user_seed + "\n") }
    end
  end
end
