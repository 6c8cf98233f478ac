// Opaque pagination cursors: clients pass back what we gave them and never parse it.
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string | undefined, keys: (keyof T)[]): T | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
    if (typeof value !== 'object' || value === null || !keys.every((k) => k in value)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}
