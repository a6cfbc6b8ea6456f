/**
 * The shell script a step's commands become. Each command is echoed before it runs (`+ cmd`),
 * the first failure stops the script, and after-commands run whatever happened, keeping the
 * main commands' exit code.
 */
export function stepScript(commands: string[], afterCommands: string[] = [], allowExitCodes: number[] = []): string {
  const main = commands.map(traced).join('\n');
  // Exit codes the file allows (GitLab's allow_failure: exit_codes) end the step as a success, said in its log.
  const allowed = allowExitCodes.length
    ? `case $nestor_rc in ${allowExitCodes.join('|')}) echo "exit code $nestor_rc is allowed to fail (allow_failure: exit_codes)"; nestor_rc=0;; esac\n`
    : '';
  if (afterCommands.length === 0 && !allowed) return `set -e\n${main}\n`;
  // After-commands (GitLab's after_script) learn how the job went from CI_JOB_STATUS, as there
  // (an exit code allowed to fail is still a failed job to them).
  const status = afterCommands.length ? 'if [ $nestor_rc -eq 0 ]; then CI_JOB_STATUS=success; else CI_JOB_STATUS=failed; fi; export CI_JOB_STATUS\n' : '';
  const after = afterCommands.length ? `(\n${afterCommands.map(traced).join('\n')}\n) || true\n` : '';
  return `(\nset -e\n${main}\n)\nnestor_rc=$?\n${status}${allowed}${after}exit $nestor_rc\n`;
}

function traced(command: string): string {
  return `printf '+ %s\\n' ${shellQuote(command.split('\n')[0]! + (command.includes('\n') ? ' …' : ''))}\n${command}`;
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
