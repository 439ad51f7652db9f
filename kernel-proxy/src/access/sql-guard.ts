import { PermissionDeniedError, type Principal } from './roles.js';

/** Table and scalar functions that reach files, processes or other servers from where ClickHouse runs. */
const OUTSIDE_FUNCTIONS = new Set(
  [
    'file', 'url', 'hdfs', 'executable', 'executablePool', 'mysql', 'postgresql', 'sqlite', 'mongodb', 'redis', 'jdbc', 'odbc',
    'remote', 'remoteSecure', 'cluster', 'clusterAllReplicas', 'azureBlobStorage', 'arrowFlight', 'ytsaurus', 'prometheusQuery',
  ].map((name) => name.toLowerCase()),
);
const OUTSIDE_PREFIXES = ['iceberg', 'deltalake', 'hudi', 'paimon'];
/** Object storage functions: allowed on a named collection (the server's keys and endpoint), refused on a raw URL. */
const STORAGE_FUNCTIONS = new Set(['s3', 'gcs', 'oss', 'cosn']);
const ADMIN_STATEMENTS = [/^SYSTEM query/, /^BackupQuery/, /^RestoreQuery/, /^KillQueryQuery/];

interface AstNode {
  label: string;
  children: AstNode[];
}

/** `EXPLAIN AST` text (one node per line, one space of indent per level) as a tree. */
export function parseExplainAst(text: string): AstNode[] {
  const roots: AstNode[] = [];
  const stack: { depth: number; node: AstNode }[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const depth = line.length - line.trimStart().length;
    const node: AstNode = { label: line.trim(), children: [] };
    while (stack.length && stack[stack.length - 1]!.depth >= depth) stack.pop();
    if (stack.length) stack[stack.length - 1]!.node.children.push(node);
    else roots.push(node);
    stack.push({ depth, node });
  }
  return roots;
}

const functionName = (label: string) => /^Function (\w+)/.exec(label)?.[1];

/** What in a statement reaches beyond ClickHouse's own tables, by ClickHouse's parse of it; undefined when nothing does. */
export function outsideReach(ast: AstNode[]): string | undefined {
  for (const root of ast) {
    if (ADMIN_STATEMENTS.some((pattern) => pattern.test(root.label))) return `${root.label.split(' ')[0]} statements`;
  }
  const visit = (node: AstNode): string | undefined => {
    const name = functionName(node.label);
    if (name) {
      const lower = name.toLowerCase().replace(/cluster$/, '');
      if (OUTSIDE_FUNCTIONS.has(lower) || OUTSIDE_PREFIXES.some((p) => lower.startsWith(p))) return `${name}()`;
      if (STORAGE_FUNCTIONS.has(lower)) {
        const firstArgument = node.children[0]?.children[0]?.label ?? '';
        if (!firstArgument.startsWith('Identifier ')) return `${name}() on a URL (use a named connection: ${name}(s3_default, …))`;
      }
    }
    if (/^SelectWithUnionQuery/.test(node.label) && node.children.some((c) => c.label.startsWith('Literal'))) return 'INTO OUTFILE';
    if (/^InsertQuery/.test(node.label) && node.children.some((c) => c.label.startsWith('Literal'))) return 'FROM INFILE';
    for (const child of node.children) {
      const found = visit(child);
      if (found) return found;
    }
    return undefined;
  };
  for (const root of ast) {
    const found = visit(root);
    if (found) return found;
  }
  return undefined;
}

/**
 * Non-admins' statements may not reach files, processes or other servers from the ClickHouse host
 * (chDB runs inside the proxy, and even `readonly` lets the scalar file() through). Throws PermissionDeniedError.
 */
export function checkReach(principal: Principal, explainAst: string): void {
  if (principal.role === 'admin') return;
  const reach = outsideReach(parseExplainAst(explainAst));
  if (reach) throw new PermissionDeniedError(principal, reach);
}
