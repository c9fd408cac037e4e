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
    /// thread (a test, a supervisor written in Swift) starts with SIGTERM
    /// blocked and would never drain on SIGTERM.
    static func unblockShutdownSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}
