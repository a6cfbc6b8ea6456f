/**
 * The shell script a step's commands become. Each command is echoed before it runs (`+ cmd`),
 * the first failure stops the script, and after-commands run whatever happened, keeping the
 * main commands' exit code.
 */
export function stepScript(commands: string[], afterCommands: string[] = []): string {
  const main = commands.map(traced).join('\n');
  if (afterCommands.length === 0) return `set -e\n${main}\n`;
  const after = afterCommands.map(traced).join('\n');
  return `(\nset -e\n${main}\n)\nnestor_rc=$?\n(\n${after}\n) || true\nexit $nestor_rc\n`;
}

function traced(command: string): string {
  return `printf '+ %s\\n' ${shellQuote(command.split('\n')[0]! + (command.includes('\n') ? ' …' : ''))}\n${command}`;
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
