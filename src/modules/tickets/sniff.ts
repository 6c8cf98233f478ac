// An attachment's content type, from its bytes (file-type's signatures), never from the sender: a
// file with no known signature is text/plain when it is valid UTF-8 without NUL bytes, otherwise
// application/octet-stream. Downloads carry it with `Content-Disposition: attachment` and nosniff.
// file-type is loaded at the first attachment.
let fileType: Promise<typeof import('file-type')> | undefined;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function sniffContentType(data: Buffer): Promise<string> {
  const found = await (await (fileType ??= import('file-type'))).fileTypeFromBuffer(data);
  if (found) return found.mime;
  if (data.includes(0)) return 'application/octet-stream';
  try {
    utf8.decode(data);
    return 'text/plain; charset=utf-8';
  } catch {
    return 'application/octet-stream';
  }
}
