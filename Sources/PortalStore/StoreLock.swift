import Glibc
import PortalDomain

/// Makes sure one process at a time runs a store over a database file.
///
/// Start-up repair takes over what "an earlier run" left half done — outbox
/// rows under another lease, holds without a payment — which is only right
/// when no other process is still working on them. So the store holds an
/// exclusive `flock` on a file beside the database (`<database>-portal.lock`)
/// for as long as it is open; a second `PortalStore.open` on the same file,
/// in this process or another, is refused with `DATABASE_IN_USE`. The lock
/// goes with the process however it ends (the kernel releases it), so a crash
/// never leaves it behind. Other tools may still read the database.
final class StoreLock: Sendable {
    /// The lock file's descriptor while the lock is held.
    private let descriptor: Locked<Int32?>

    /// Takes the lock for the database at `databasePath`.
    ///
    /// - Throws: ``PortalError`` `failedPrecondition` / `DATABASE_IN_USE`
    ///   when another open store holds it; `internal` when the lock file
    ///   cannot be created (an unwritable folder).
    init(databasePath: String) throws(PortalError) {
        let path = databasePath + "-portal.lock"
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw PortalError(
                .internal, .internalError, "The database's lock file cannot be created.",
                details: ["path": path])
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(descriptor)
            throw PortalError.failedPrecondition(
                .databaseInUse,
                "Another portald (or store) has this database open; one process at a time may run it.",
                details: ["path": databasePath])
        }
        self.descriptor = Locked(descriptor)
    }

    /// Releases the lock (the store closed); later calls do nothing.
    func release() {
        // Closing the descriptor releases the lock.
        if let descriptor = descriptor.withLock({ $0.take() }) { Glibc.close(descriptor) }
    }

    deinit { release() }
}
