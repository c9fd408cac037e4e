import Foundation

/// A few dedicated threads that run libcurl's blocking transfers, so that no
/// caller's thread (a Swift concurrency executor, a NIO event loop) ever
/// blocks on the network. Each thread owns one easy handle for its whole life,
/// which keeps that thread's connections alive between transfers.
///
/// Callers `await` a transfer; the continuation is resumed on the worker
/// thread when libcurl returns. Requests beyond the number of threads wait in
/// a first-in, first-out queue.
final class CurlWorkerPool: Sendable {
    private let queue: TransferQueue

    /// Starts `threadCount` worker threads named `name-0`, `name-1`, …
    init(threadCount: Int, name: String) {
        queue = TransferQueue()
        for index in 0..<max(1, threadCount) {
            let thread = Thread { [queue] in
                let handle = CurlEasyHandle()
                while let transfer = queue.next() {
                    transfer.continuation.resume(returning: handle.perform(transfer.request))
                }
            }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Lets the threads finish what is queued, then exit. Called when the
    /// owning client goes away.
    deinit {
        queue.close()
    }

    /// Runs one exchange on a worker thread.
    func perform(_ request: CurlRequest) async -> CurlOutcome {
        await withCheckedContinuation { continuation in
            queue.enqueue(PendingTransfer(request: request, continuation: continuation))
        }
    }
}

private struct PendingTransfer: Sendable {
    var request: CurlRequest
    var continuation: CheckedContinuation<CurlOutcome, Never>
}

/// The transfers waiting for a worker thread. All state is guarded by
/// `condition`, which is why it can be shared across threads.
private final class TransferQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [PendingTransfer] = []
    private var head = 0
    private var closed = false

    func enqueue(_ transfer: PendingTransfer) {
        condition.lock()
        guard !closed else {
            condition.unlock()
            transfer.continuation.resume(returning: .failure(CurlFailure(code: 0, message: "client shut down")))
            return
        }
        pending.append(transfer)
        condition.signal()
        condition.unlock()
    }

    /// The next transfer, blocking while there is none; `nil` once closed and drained.
    func next() -> PendingTransfer? {
        condition.lock()
        defer { condition.unlock() }
        while head == pending.count {
            if closed { return nil }
            condition.wait()
        }
        let transfer = pending[head]
        head += 1
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        }
        return transfer
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
