import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server: enforces the connection cap and lets
/// shutdown reach every connection.
package final class ConnectionRegistry: Sendable {
    private struct Entry: Sendable {
        var channel: any Channel
        var handle: ConnectionHandle
    }

    private let maximum: Int
    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    package init(maximum: Int) {
        self.maximum = maximum
    }

    /// Admits `channel` unless the cap is reached. An admitted channel leaves
    /// the registry by itself when it closes.
    package func admit(_ channel: any Channel, handle: ConnectionHandle) -> Bool {
        let key = ObjectIdentifier(channel)
        let admitted = entries.withLockedValue { entries in
            guard entries.count < maximum else { return false }
            entries[key] = Entry(channel: channel, handle: handle)
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in
                _ = self.entries.withLockedValue { $0.removeValue(forKey: key) }
            }
        }
        return admitted
    }

    /// How many connections are open.
    package var count: Int { entries.withLockedValue { $0.count } }

    /// Tells every connection that the server drains.
    package func drainAll() {
        for entry in entries.withLockedValue({ Array($0.values) }) { entry.handle.drain() }
    }

    /// Closes every connection after flushing its pending answers, and waits
    /// until they are closed.
    package func closeAll() async {
        let all = entries.withLockedValue { Array($0.values) }
        for entry in all { entry.handle.close() }
        for entry in all { try? await entry.channel.closeFuture.get() }
    }
}
