// The pipelines of examples/drone-app, written as Drone's Jsonnet: a function per shape, the
// commit from Drone's external variables. Nestor evaluates it with the reference jsonnet and
// reads the result as a .drone.yml. The plugin is built from examples/drone-app/plugin:
//   docker build -t nestor-example/notify:1 examples/drone-app/plugin
local commit = std.substr(std.extVar('build.commit'), 0, 8);
local socket = { name: 'docker', path: '/var/run/docker.sock' };

local pipeline(name, steps, extra={}) = {
  kind: 'pipeline',
  type: 'docker',
  name: name,
  steps: steps,
} + extra;

[
  pipeline('build', [
    {
      name: 'image',
      image: 'docker:27-cli',
      volumes: [socket],
      commands: [
        "printf 'FROM busybox:latest\\nCMD [\"echo\", \"hello from greeter %%s\"]\\n' %s | docker build -q -t greeter:%s - > /dev/null" % [commit, commit],
        'docker run --rm greeter:%s' % commit,
      ],
    },
    {
      name: 'notify',
      image: 'nestor-example/notify:1',
      settings: {
        channel: 'builds',
        recipients: ['ops', 'dev'],
        message: 'greeter %s is built (jsonnet)' % commit,
      },
    },
  ], { volumes: [{ name: 'docker', host: { path: '/var/run/docker.sock' } }] }),

  pipeline('test', [
    { name: 'unit', image: 'busybox:latest', commands: ['echo "testing in $DRONE_STAGE_NAME after build, commit %s"' % commit] },
  ], { depends_on: ['build'] }),
]
