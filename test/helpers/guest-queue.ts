// Tests that boot QEMU guests queue on guests.lock (two cores, CPU-bound TCG guests: one guest
// test at a time). Their timeout covers the queue, not only their own run: the Vagrant lab
// (test/vagrant/lab.test.ts) holds the lock for about 20 minutes, and the packages' systemd guest
// for about 4. The bound separates a hang from a long queue, not a slow machine from a fast one.
export const QUEUED_GUEST_TEST_TIMEOUT_MS = 45 * 60_000;
