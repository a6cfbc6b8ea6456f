/**
 * Known Docker and DinD failure messages, what causes them and how to fix them. Pure: every
 * check passes its raw error through here so the user reads a cause and a fix, not a stack.
 */
export interface Diagnosis {
  cause: string;
  fix: string;
}

const KNOWN: { match: RegExp; diagnosis: Diagnosis }[] = [
  {
    match: /unable to apply caps/i,
    diagnosis: {
      cause: 'The kernel or sandbox refuses a capability that --privileged asks for (often CAP_SYS_RESOURCE is missing from the bounding set).',
      fix: 'Use the explicit capability set: nestor engine start --isolation dind-caps (the default `auto` falls back to it by itself).',
    },
  },
  {
    match: /cgroup.*read-only file system|read-only file system.*cgroup/i,
    diagnosis: {
      cause: 'The nested daemon sees /sys/fs/cgroup read-only, so it cannot create cgroups for its containers.',
      fix: 'Mount the cgroup tree read-write into the DinD container (-v /sys/fs/cgroup:/sys/fs/cgroup:rw, as dind-caps does), or run it privileged; on cgroup v2 use --cgroupns=private.',
    },
  },
  {
    match: /bpf_prog_query/i,
    diagnosis: {
      cause: 'On cgroup v2 the nested runc manages devices with BPF programs, which seccomp or missing CAP_SYS_ADMIN forbid.',
      fix: 'Run the DinD container privileged, or with --security-opt seccomp=unconfined and CAP_SYS_ADMIN (dind-caps), or under sysbox.',
    },
  },
  {
    match: /nf_tables|nftables|can't initialize iptables|Couldn't load (match|target)|iptables: (not found|No such file)|Failed to create NAT chain/i,
    diagnosis: {
      cause: 'The iptables flavour does not match the kernel: the nf_tables backend is missing, or legacy and nft rules are mixed.',
      fix: 'Use one flavour everywhere: update-alternatives --set iptables /usr/sbin/iptables-legacy (or load nf_tables: modprobe nf_tables), in the host and in the DinD image.',
    },
  },
  {
    match: /x509|bad certificate|certificate (signed by unknown|has expired|is valid for)|tls: |unable to verify the first certificate|self.signed/i,
    diagnosis: {
      cause: 'The TLS material does not fit: the client does not trust the engine\'s CA, the certificate expired, or it names another host.',
      fix: 'Point DOCKER_CERT_PATH at the engine\'s own ca.pem, cert.pem and key.pem (nestor engine start prints them), or restart the engine to issue new ones.',
    },
  },
  {
    match: /permission denied.*docker\.sock|EACCES/i,
    diagnosis: {
      cause: 'This user may not use the Docker socket.',
      fix: 'Add the user to the docker group (usermod -aG docker $USER, then log in again), run as root, or use a rootless engine.',
    },
  },
  {
    match: /Cannot connect to the Docker daemon|ECONNREFUSED|ENOENT|no such file or directory.*sock/i,
    diagnosis: {
      cause: 'No Docker daemon answers at that address.',
      fix: 'Start it (systemctl start docker, or dockerd &) and check DOCKER_HOST; `bash scripts/ensure-env.sh` installs and starts one.',
    },
  },
  {
    match: /mtu/i,
    diagnosis: {
      cause: 'Docker\'s bridge MTU is larger than the host\'s uplink, so large packets are dropped (TLS handshakes and pulls hang).',
      fix: 'Set the bridge MTU to the host\'s: "mtu" in /etc/docker/daemon.json, and nestor engine start --mtu N for nested engines.',
    },
  },
  {
    match: /no space left on device/i,
    diagnosis: { cause: 'The disk or tmpfs holding the engine\'s storage is full.', fix: 'Run `nestor prune`, or give engines volume storage (--storage volume).' },
  },
  {
    match: /d_type|overlay.*not supported|backing filesystem is unsupported/i,
    diagnosis: {
      cause: 'The filesystem under /var/lib/docker cannot back overlay2 (XFS without ftype=1, or overlay on overlay).',
      fix: 'Put /var/lib/docker on ext4 or XFS with ftype=1, or on tmpfs/a volume for nested engines.',
    },
  },
];

export function diagnose(message: string): Diagnosis | undefined {
  return KNOWN.find((k) => k.match.test(message))?.diagnosis;
}
