/**
 * What to do about each kind of damage in a log directory: one sentence each, used by the errors
 * `open()` throws and by `writebehind verify`. Each names only a remedy that applies: `recovery:
 * 'truncate'` repairs segments, never the checkpoint's bytes or the dead-letter file.
 */
export const REMEDY = {
  /** A bad record or a cut/missing middle segment. */
  segmentCorrupt: 'Run `writebehind verify <dir>` to list the damage; to drop the bad record and everything after it, open with recovery: "truncate".',
  /** The first segment(s) the checkpoint says must exist are gone. */
  missingStart: 'Put the missing segment back if you have it (a backup, a cleaner\'s trash); otherwise open with recovery: "truncate" to accept its loss and keep the rest.',
  /** A bad line in dead-letters.log. */
  deadLetterCorrupt:
    'No dead letter was dropped. Each line is JSON led by a CRC: fix or delete the bad line by hand (keep a copy of the file), then open again; recovery: "truncate" does not apply to dead letters.',
  /** A damaged checkpoint file. */
  checkpointDamaged:
    'Move CHECKPOINT aside (keep it for a bug report) and open with recovery: "truncate": every record still in the segments is replayed (version fencing makes re-flushing flushed ones harmless), and "truncate" accepts the segments the checkpoint had already deleted as flushed.',
  /** A file written by a newer release. */
  newerFormat: 'It was written by a newer release of writebehind: open the dir with that release.',
  /** Something that is not writebehind's where its file belongs. */
  foreignFile: "Move that file out of the dir: only writebehind's own files belong there.",
  /** A directory where writebehind keeps a file. */
  isDirectory: "Move that directory out of the cache's dir: writebehind keeps a file of that name there.",
} as const
