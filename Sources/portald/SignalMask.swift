#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's signal mask at start.
enum SignalMask {
    /// Unblocks SIGTERM and SIGINT in the calling thread (call it first thing,
    /// on the main thread, so every thread started later inherits it).
    ///
    /// A process inherits the mask of the thread that spawned it; one started
    /// with Foundation's `Process` from a Dispatch or Swift-concurrency worker
    /// thread (a test, a supervisor written in Swift) starts with SIGTERM and
    /// SIGINT blocked. The ServiceGroup's Dispatch signal sources still see
    /// them on Linux (measured: the crash test's SIGTERM drains portald with
    /// or without this call), but anything relying on ordinary delivery
    /// would not; so portald starts from the mask a shell would give it.
    static func unblockShutdownSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}
