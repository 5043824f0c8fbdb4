// Just enough of an SFTP server to receive uploads into memory: the
// simulated machines of `bmaas dev` and the in-process SSH server of the tests
// both accept the agent this way.
import ssh2 from 'ssh2';
import type { Attributes, SFTPWrapper } from 'ssh2';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/** A file received over SFTP. */
export interface UploadedFile {
  data: Buffer;
  mode: number;
}

/** Serves open, write, (f)setstat, stat and close into `files`; everything else is unsupported. */
export function serveUploadSftp(sftp: SFTPWrapper, files: Map<string, UploadedFile>): void {
  const handles = new Map<string, string>();
  let nextHandle = 0;
  const pathOf = (handle: Buffer): string | undefined => handles.get(handle.toString('hex'));
  const applyAttrs = (file: UploadedFile, attrs: Attributes): void => {
    if (typeof attrs.mode === 'number') file.mode = attrs.mode & 0o7777;
  };

  sftp.on('OPEN', (reqId: number, filename: string, flags: number, attrs: Attributes) => {
    const existing = files.get(filename);
    if (!existing && !(flags & OPEN_MODE.CREAT)) {
      sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      return;
    }
    if (!existing) {
      files.set(filename, { data: Buffer.alloc(0), mode: typeof attrs.mode === 'number' ? attrs.mode & 0o7777 : 0o644 });
    } else if (flags & OPEN_MODE.TRUNC) {
      existing.data = Buffer.alloc(0);
    }
    const handle = Buffer.alloc(4);
    handle.writeUInt32BE(nextHandle++);
    handles.set(handle.toString('hex'), filename);
    sftp.handle(reqId, handle);
  });
  sftp.on('WRITE', (reqId: number, handle: Buffer, offset: number, data: Buffer) => {
    const file = files.get(pathOf(handle) ?? '');
    if (!file) {
      sftp.status(reqId, STATUS_CODE.FAILURE);
      return;
    }
    const end = offset + data.length;
    if (end > file.data.length) {
      const grown = Buffer.alloc(end);
      file.data.copy(grown);
      file.data = grown;
    }
    data.copy(file.data, offset);
    sftp.status(reqId, STATUS_CODE.OK);
  });
  sftp.on('FSETSTAT', (reqId: number, handle: Buffer, attrs: Attributes) => {
    const file = files.get(pathOf(handle) ?? '');
    if (!file) {
      sftp.status(reqId, STATUS_CODE.FAILURE);
      return;
    }
    applyAttrs(file, attrs);
    sftp.status(reqId, STATUS_CODE.OK);
  });
  sftp.on('SETSTAT', (reqId: number, path: string, attrs: Attributes) => {
    const file = files.get(path);
    if (!file) {
      sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      return;
    }
    applyAttrs(file, attrs);
    sftp.status(reqId, STATUS_CODE.OK);
  });
  const stat = (reqId: number, path: string | undefined): void => {
    const file = files.get(path ?? '');
    if (!file) {
      sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      return;
    }
    sftp.attrs(reqId, { mode: 0o100000 | file.mode, uid: 0, gid: 0, size: file.data.length, atime: 0, mtime: 0 });
  };
  sftp.on('STAT', (reqId: number, path: string) => stat(reqId, path));
  sftp.on('LSTAT', (reqId: number, path: string) => stat(reqId, path));
  sftp.on('FSTAT', (reqId: number, handle: Buffer) => stat(reqId, pathOf(handle)));
  sftp.on('CLOSE', (reqId: number, handle: Buffer) => {
    handles.delete(handle.toString('hex'));
    sftp.status(reqId, STATUS_CODE.OK);
  });
  for (const op of ['READ', 'OPENDIR', 'READDIR', 'REMOVE', 'RMDIR', 'REALPATH', 'READLINK', 'MKDIR', 'RENAME', 'SYMLINK']) {
    sftp.on(op, (reqId: number) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED));
  }
}
