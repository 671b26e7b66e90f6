/**
 * Mesh's `filterBy` for a declared subscription (`root.data.object.customer === args.customerId`),
 * without running the configuration as code: Mesh compiles the string with `new Function`; Junction
 * reads it as an expression over `root` (the event's payload) and `args` (the subscription's
 * arguments) and evaluates that alone. What it reads: paths (`root.a.b`, `args.x`, `root.items[0]`),
 * string, number, boolean and null literals, `===` `!==` `==` `!=` `<` `<=` `>` `>=`, `!`, `&&`,
 * `||` and parentheses. Anything else is refused at start with its position.
 */
export type FilterExpression =
  | { kind: 'literal'; value: unknown }
  | { kind: 'path'; root: 'root' | 'args'; keys: (string | number)[] }
  | { kind: 'not'; operand: FilterExpression }
  | { kind: 'binary'; operator: string; left: FilterExpression; right: FilterExpression };

export class FilterSyntaxError extends Error {}

const TOKEN = /\s*(?:(===|!==|==|!=|<=|>=|&&|\|\||[<>!().[\]])|(-?\d+(?:\.\d+)?)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([A-Za-z_$][A-Za-z0-9_$]*))/y;

type Token = { type: 'op' | 'number' | 'string' | 'name'; value: string; at: number };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < source.length) {
    if (/^\s*$/.test(source.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(source);
    if (!match) throw new FilterSyntaxError(`unexpected "${source.slice(at).trim().slice(0, 10)}" at ${at}`);
    const [, op, number, single, double, name] = match;
    if (op !== undefined) tokens.push({ type: 'op', value: op, at });
    else if (number !== undefined) tokens.push({ type: 'number', value: number, at });
    else if (single !== undefined || double !== undefined) tokens.push({ type: 'string', value: (single ?? double)!.replace(/\\(.)/g, '$1'), at });
    else tokens.push({ type: 'name', value: name!, at });
  }
  return tokens;
}

/** Parses a filterBy expression; throws FilterSyntaxError saying where it stops making sense. */
export function parseFilter(source: string): FilterExpression {
  const tokens = tokenize(source);
  let i = 0;
  const peek = () => tokens[i];
  const fail = (what: string): never => {
    const token = peek();
    throw new FilterSyntaxError(token ? `${what} at ${token.at} ("${token.value}")` : `${what} at the end`);
  };
  const take = (value: string) => {
    if (peek()?.type === 'op' && peek()!.value === value) {
      i++;
      return true;
    }
    return false;
  };
  const primary = (): FilterExpression => {
    const token = peek();
    if (!token) return fail('expected a value');
    if (take('(')) {
      const inner = or();
      if (!take(')')) fail('expected ")"');
      return inner;
    }
    i++;
    if (token.type === 'number') return { kind: 'literal', value: Number(token.value) };
    if (token.type === 'string') return { kind: 'literal', value: token.value };
    if (token.type === 'name') {
      if (token.value === 'true' || token.value === 'false') return { kind: 'literal', value: token.value === 'true' };
      if (token.value === 'null' || token.value === 'undefined') return { kind: 'literal', value: null };
      if (token.value !== 'root' && token.value !== 'args') {
        i--;
        return fail('expected root.…, args.… or a literal');
      }
      const keys: (string | number)[] = [];
      for (;;) {
        if (take('.')) {
          const key = peek();
          if (key?.type !== 'name') return fail('expected a field name');
          i++;
          keys.push(key.value);
        } else if (take('[')) {
          const key = peek();
          if (key?.type !== 'number' && key?.type !== 'string') return fail('expected an index or a quoted key');
          i++;
          keys.push(key.type === 'number' ? Number(key.value) : key.value);
          if (!take(']')) fail('expected "]"');
        } else break;
      }
      return { kind: 'path', root: token.value, keys };
    }
    i--;
    return fail('expected a value');
  };
  const not = (): FilterExpression => (take('!') ? { kind: 'not', operand: not() } : comparison());
  const comparison = (): FilterExpression => {
    const left = primary();
    const token = peek();
    if (token?.type === 'op' && ['===', '!==', '==', '!=', '<', '<=', '>', '>='].includes(token.value)) {
      i++;
      return { kind: 'binary', operator: token.value, left, right: primary() };
    }
    return left;
  };
  const and = (): FilterExpression => {
    let left = not();
    while (take('&&')) left = { kind: 'binary', operator: '&&', left, right: not() };
    return left;
  };
  const or = (): FilterExpression => {
    let left = and();
    while (take('||')) left = { kind: 'binary', operator: '||', left, right: and() };
    return left;
  };
  const expression = or();
  if (i < tokens.length) fail('unexpected');
  return expression;
}

/** A path's value; own properties only, so `__proto__` or `constructor` read nothing. */
export function readPath(value: unknown, keys: readonly (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** Only primitives are compared: an object on either side of `<` or `==` is never equal, never ordered. */
const primitive = (v: unknown) => v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v);

export function evaluateFilter(expression: FilterExpression, scope: { root: unknown; args: unknown }): unknown {
  switch (expression.kind) {
    case 'literal':
      return expression.value;
    case 'path':
      return readPath(scope[expression.root], expression.keys);
    case 'not':
      return !evaluateFilter(expression.operand, scope);
    case 'binary': {
      if (expression.operator === '&&') return evaluateFilter(expression.left, scope) && evaluateFilter(expression.right, scope);
      if (expression.operator === '||') return evaluateFilter(expression.left, scope) || evaluateFilter(expression.right, scope);
      const a = evaluateFilter(expression.left, scope);
      const b = evaluateFilter(expression.right, scope);
      if (!primitive(a) || !primitive(b)) return expression.operator === '!==' || expression.operator === '!=';
      switch (expression.operator) {
        case '===': return a === b;
        case '!==': return a !== b;
        // eslint-disable-next-line eqeqeq
        case '==': return a == b;
        // eslint-disable-next-line eqeqeq
        case '!=': return a != b;
        case '<': return (a as number) < (b as number);
        case '<=': return (a as number) <= (b as number);
        case '>': return (a as number) > (b as number);
        case '>=': return (a as number) >= (b as number);
      }
      return false;
    }
  }
}
