#!/usr/bin/env bash
# Builds plumb's Debian packages from this checkout with dpkg-deb, offline (node_modules from
# `npm ci`, pruned to production):
#   plumb             the code, its node_modules and /usr/bin/plumb (architecture-specific: native modules)
#   plumb-agent       the agent's unit and /etc/plumb/agent.yaml, for every hypervisor host
#   plumb-controller  the controller's unit, /etc/plumb/controller.yaml and the plumb system user
# Usage: scripts/package.sh --out DIR [--version VERSION] [--no-build] [--with-nodejs]
# --no-build packages dist/ as it is (scripts/setup.sh has just built it) instead of running tsc.
# --with-nodejs also puts this machine's nodejs package into DIR (dpkg-repack): the Node.js the
#   native modules were built against, for hosts whose distribution has an older one (Debian 12: 18).
# VERSION defaults to package.json's version plus the commit's date and id, so that each commit's
# build upgrades the one before it. Prints the paths of the three .deb files.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
repo=$PWD

die() { echo "package: $*" >&2; exit 2; }
out=""
version=""
build=1
with_nodejs=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --with-nodejs) with_nodejs=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (scripts/package.sh --out DIR [--version VERSION] [--no-build] [--with-nodejs])" ;;
  esac
done
[ -n "$out" ] || die "--out DIR is required"
case $out in /*) ;; *) out=$caller/$out ;; esac
for tool in dpkg-deb dpkg strip gzip node npm; do command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup.sh installs what plumb needs)"; done
[ -d node_modules ] || die "node_modules is missing: run scripts/setup.sh (npm ci) first"

upstream=$(node -p 'require("./package.json").version')
if [ -z "$version" ]; then
  version=$upstream
  if git rev-parse --git-dir >/dev/null 2>&1; then
    version="$upstream+git$(git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S).$(git rev-parse --short=8 HEAD)"
    # uncommitted changes: a later version than the commit's own, else apt on a node that has
    # the commit's build installed keeps it and silently runs the old code
    [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || version="$version.dirty$(date -u +%Y%m%d%H%M%S)"
  fi
fi
dpkg --validate-version "$version" 2>/dev/null || die "--version '$version' is not a Debian version (digits first; letters, digits, '.', '+', '~')"
case $version in *-*) die "--version '$version': plumb is a native package, no Debian revision ('-')" ;; esac

arch=$(dpkg --print-architecture)
node_major=$(node -p 'process.versions.node.split(".")[0]')
node_abi=$(node -p 'process.versions.modules')
npm_arch=$(node -p 'process.arch')
maintainer="plumb developers <plumb@lists.plumb.invalid>"

if [ "$build" = 1 ]; then npm run --silent build; fi
[ -f dist/cli/main.js ] || die "dist/ is not built (npm run build)"
schema_version=$(node --input-type=module -e "const m = await import('$repo/dist/controller/db.js'); console.log(m.SCHEMA_VERSION)")
[[ $schema_version =~ ^[0-9]+$ ]] || die "could not read the store's schema version from dist/controller/db.js"

work=$(mktemp -d "${TMPDIR:-/tmp}/plumb-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# ---- plumb: the code ------------------------------------------------------------------------
common=$work/plumb
lib=$common/usr/lib/plumb
mkdir -p "$lib/bin" "$common/usr/bin" "$common/usr/share/doc/plumb/examples" "$common/usr/share/man/man1" "$common/DEBIAN"
cp -a dist "$lib/"
find "$lib/dist" \( -name '*.map' -o -name '*.d.ts' \) -delete
cp bin/plumb.js bin/package.json "$lib/bin/"
cp package.json package-lock.json "$lib/"
cp -a node_modules "$lib/"
(cd "$lib" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
# package.json as installed: this version (plumb --version prints it), no scripts or dev tools
node -e '
  const fs = require("fs"); const [file, version] = process.argv.slice(1);
  const p = JSON.parse(fs.readFileSync(file, "utf8"));
  fs.writeFileSync(file, JSON.stringify({ name: p.name, version, description: p.description, type: p.type, license: p.license, private: true, dependencies: p.dependencies }, null, 2) + "\n");
' "$lib/package.json" "$version"
rm -f "$lib/package-lock.json"

nm=$lib/node_modules
# Native modules: better-sqlite3 is compiled here by node-gyp against this Node's ABI; netlink
# and koffi load N-API binaries. Keep only this architecture's binary and drop build leftovers.
sqlite=$nm/better-sqlite3
[ -f "$sqlite/build/Release/better_sqlite3.node" ] || die "better-sqlite3 is not built (npm ci builds it)"
mv "$sqlite/build/Release/better_sqlite3.node" "$work/better_sqlite3.node"
rm -rf "$sqlite/build" "$sqlite/deps" "$sqlite/src" "$sqlite/binding.gyp"
mkdir -p "$sqlite/build/Release"
mv "$work/better_sqlite3.node" "$sqlite/build/Release/"
[ -d "$nm/netlink/prebuilds/linux-$npm_arch" ] || die "netlink has no binary for linux-$npm_arch"
find "$nm/netlink/prebuilds" -mindepth 1 -maxdepth 1 ! -name "linux-$npm_arch" -exec rm -rf {} +
rm -rf "$nm/netlink/src" "$nm/netlink/binding.gyp" "$nm/node-addon-api"
koffi_native=$(find "$nm/@koromix" -path "*/linux_$npm_arch/koffi.node" 2>/dev/null | head -n 1)
[ -n "$koffi_native" ] || die "koffi has no glibc binary for linux_$npm_arch"
find "$nm/@koromix" -mindepth 2 -maxdepth 2 -type d ! -name "linux_$npm_arch" -exec rm -rf {} +
# koffi's C++ sources and vendored libraries (its JavaScript under src/ is what loads the binary);
# cnoke.cjs is its install-time builder, never run from the package
find "$nm/koffi/src" -type f ! -name '*.js' ! -name '*.cjs' -delete
rm -rf "$nm/koffi/vendor" "$nm/koffi/doc" "$nm/koffi/cnoke.cjs"
# what only a build, an editor or a web page uses: type declarations, source maps, doc pages
find "$nm" -depth -type d \( -name '@types' -o -name '.bin' -o -name '.vite' \) -exec rm -rf {} +
find "$nm" -type f \( -name '*.map' -o -name '*.ts' -o -name '*.html' -o -name '*.md' ! -iname 'license*' -o -name '.*' \) -delete
find "$nm" -name '*.node' -exec strip --strip-unneeded {} +
find "$nm" -depth -type d \( -name test -o -name tests -o -name .husky -o -name .github \) -exec rm -rf {} +
# executable exactly when it is a script (#!), whatever modes the npm tarballs carried
find "$nm" -type f -exec chmod 0644 {} +
find "$nm" -type f ! -name '*.node' -exec sh -c 'for f; do [ "$(head -c 2 "$f")" != "#!" ] || chmod 0755 "$f"; done' sh {} +
find "$lib" -type d -empty -delete
natives=$(cd "$lib" && find node_modules -name '*.node' | sort)
{
  echo "Native modules in this package ($arch, built $(date -u +%Y-%m-%d) for Node.js $node_major, ABI $node_abi):"
  for f in $natives; do echo "  $f"; done
  echo "better-sqlite3 is compiled by node-gyp against the Node.js ABI above; netlink and koffi load N-API binaries for linux-$npm_arch."
} > "$lib/NATIVE-MODULES"

printf '#!/bin/sh\n# plumb: the agent, the controller and their CLI (/usr/lib/plumb)\nexec /usr/bin/node /usr/lib/plumb/bin/plumb.js "$@"\n' > "$common/usr/bin/plumb"
chmod 0755 "$common/usr/bin/plumb"
gzip -9n < packaging/deb/plumb.1 > "$common/usr/share/man/man1/plumb.1.gz"

doc=$common/usr/share/doc/plumb
cp README.md docs/*.md "$doc/"
cp config/agent.example.yaml config/controller.example.yaml config/hook.example.yaml config/ganeti-kvm-vif-bridge config/example-state.json config/nats-server.example.conf "$doc/examples/"
{
  cat packaging/deb/copyright.head
  node -e '
    const lock = require(process.argv[1]);
    const seen = new Map();
    for (const [path, p] of Object.entries(lock.packages)) {
      if (!path || p.dev || p.optional && !require("fs").existsSync(process.argv[2] + "/" + path)) continue;
      const name = path.replace(/^.*node_modules\//, "");
      const license = String(p.license ?? "UNKNOWN").replace(/^\((.*)\)$/, "$1").replace(/ OR /g, " or ");
      seen.set(path, [name, license]);
    }
    for (const [path, [name, license]] of [...seen].sort()) {
      console.log(`\nFiles: usr/lib/plumb/${path}/*\nCopyright: the authors of ${name} (see its LICENSE file)\nLicense: ${license}`);
    }
  ' "$repo/package-lock.json" "$lib"
  cat packaging/deb/copyright.licenses
} > "$doc/copyright"
changelog_date=$(git log -1 --format=%cd --date=rfc2822 2>/dev/null || date -R)
printf 'plumb (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" "$maintainer" "$changelog_date" | gzip -9n > "$doc/changelog.gz"

# ---- plumb-agent / plumb-controller: units, conffiles, maintainer scripts ---------------------
# The example configs are installed with every setting commented out: the unit's ExecCondition
# (plumb ... check-config --exec-condition) keeps the service down until the operator edits them.
commented_config() {
  printf '# NOT CONFIGURED YET: the plumb-%s unit does not start while this file sets nothing.\n' "$2"
  printf '# Uncomment and edit the settings below, then: systemctl start plumb-%s\n#\n' "$2"
  sed -E 's/^([^#[:space:]]|[[:space:]]+[^#[:space:]])/#\1/' "$1"
}
for role in agent controller; do
  pkg=$work/plumb-$role
  mkdir -p "$pkg/lib/systemd/system" "$pkg/etc/plumb" "$pkg/usr/share/doc" "$pkg/DEBIAN"
  install -m 0644 "systemd/plumb-$role.service" "$pkg/lib/systemd/system/"
  commented_config "config/$role.example.yaml" "$role" > "$pkg/etc/plumb/$role.yaml"
  chmod 0644 "$pkg/etc/plumb/$role.yaml"
  echo "/etc/plumb/$role.yaml" > "$pkg/DEBIAN/conffiles"
  ln -s plumb "$pkg/usr/share/doc/plumb-$role"
done

# Maintainer scripts, assembled from packaging/deb: a package's own steps (<package>.<script>),
# then, for a package with a unit, the unit's handling (unit.<script>, with @UNIT@).
maintainer_scripts() { # package name, its unit or ""
  local script parts
  for script in preinst postinst prerm postrm; do
    parts=()
    [ ! -f "packaging/deb/$1.$script" ] || parts+=("packaging/deb/$1.$script")
    [ -z "$2" ] || [ ! -f "packaging/deb/unit.$script" ] || parts+=("packaging/deb/unit.$script")
    [ ${#parts[@]} -gt 0 ] || continue
    {
      printf '#!/bin/sh\n# %s %s (built by scripts/package.sh from packaging/deb)\nset -e\n' "$1" "$script"
      cat "${parts[@]}" | sed -e "s/@UNIT@/$2/g" -e "s/@SCHEMA_VERSION@/$schema_version/g"
      echo 'exit 0'
    } > "$work/$1/DEBIAN/$script"
    chmod 0755 "$work/$1/DEBIAN/$script"
  done
}
maintainer_scripts plumb ""
maintainer_scripts plumb-agent plumb-agent.service
maintainer_scripts plumb-controller plumb-controller.service

control() { # package dir, name, architecture, depends, recommends, summary, description
  local size
  size=$(du -sk --exclude=DEBIAN "$1" | cut -f1)
  {
    echo "Package: $2"
    echo "Version: $version"
    echo "Architecture: $3"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $4"
    [ -z "$5" ] || echo "Recommends: $5"
    echo "Section: net"
    echo "Priority: optional"
    echo "Description: $6"
    printf '%s\n' "$7" | fold -s -w 76 | sed -e 's/[[:space:]]*$//' -e 's/^/ /' -e 's/^ $/ ./'
  } > "$1/DEBIAN/control"
  (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r md5sum) > "$1/DEBIAN/md5sums"
}
about="plumb is a network agent for virtualization hosts (Linux bridges, VLAN and VXLAN uplinks, taps, a routed public network with proxy ARP/NDP, port security with nftables, DHCP and router advertisements with the addresses the controller assigned) and the controller that drives it over NATS behind a Neutron-style API."
native_note=$(printf 'Native modules, built for %s and Node.js %s (ABI %s): better-sqlite3 (compiled by node-gyp), netlink and koffi (N-API binaries for linux-%s); /usr/lib/plumb/NATIVE-MODULES lists them.' "$arch" "$node_major" "$node_abi" "$npm_arch")
control "$common" plumb "$arch" "nodejs (>= 20.11), nodejs (<< $((node_major + 1))), libc6, libsystemd0" "" \
  "network agent and controller for virtualization hosts (code)" \
  "$about

This package holds the code, its JavaScript modules and /usr/bin/plumb. $native_note"
control "$work/plumb-agent" plumb-agent all "plumb (= $version), iproute2, nftables" "" \
  "network agent for virtualization hosts (systemd unit)" \
  "$about

This package runs the agent on a hypervisor host: plumb-agent.service (root, with only CAP_NET_ADMIN and CAP_NET_RAW) and /etc/plumb/agent.yaml. The unit is enabled at install and starts once agent.yaml is configured."
control "$work/plumb-controller" plumb-controller all "plumb (= $version), adduser" "nats-server" \
  "network controller for virtualization clusters (systemd unit)" \
  "$about

This package runs the controller: plumb-controller.service as the plumb system user, its store in /var/lib/plumb, and /etc/plumb/controller.yaml. The unit is enabled at install and starts once controller.yaml is configured. nats-server is recommended: the bus may also run on other nodes."

for name in plumb plumb-agent plumb-controller; do
  a=all; [ "$name" = plumb ] && a=$arch
  deb=$out/${name}_${version}_$a.deb
  dpkg-deb --root-owner-group -Zxz -z6 --build "$work/$name" "$deb" >/dev/null
  echo "$deb"
done
if [ "$with_nodejs" = 1 ]; then
  command -v dpkg-repack >/dev/null || die "--with-nodejs needs dpkg-repack (scripts/apt-packages.txt)"
  dpkg-query -W nodejs >/dev/null 2>&1 || die "--with-nodejs: this machine's Node.js is not the Debian package nodejs"
  rm -f "$out"/nodejs_*.deb
  (cd "$out" && dpkg-repack nodejs > "$work/dpkg-repack.log" 2>&1) || { tail -n 5 "$work/dpkg-repack.log" >&2; die "dpkg-repack nodejs failed"; }
  ls "$out"/nodejs_*.deb
fi
