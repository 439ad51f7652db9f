/** `${NAME}` in a value of a connections file is read from the environment, so the file itself can hold no secret. */
export function expandEnv(value: string | undefined, env: NodeJS.ProcessEnv, where: string, fail: (message: string) => Error = (m) => new Error(m)): string | undefined {
  if (value === undefined) return undefined;
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw fail(`${where}: environment variable ${name} is not set`);
    return v;
  });
}
