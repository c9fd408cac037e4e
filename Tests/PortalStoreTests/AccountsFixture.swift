import PortalDomain
@testable import PortalStore
import XCTest

extension StoreFixture {
    /// Portal accounts over this fixture's store, with the default (real)
    /// password hashing unless told otherwise.
    func accounts(_ configuration: PortalAccounts.Configuration = .init()) throws -> PortalAccounts {
        try PortalAccounts(store: store, configuration: configuration)
    }

    /// A client with a portal login.
    func clientWithLogin(
        _ accounts: PortalAccounts, name: String = "Client", username: String, password: String = "correct horse"
    ) async throws -> ClientID {
        let client = try await self.client(name)
        _ = try await accounts.createPortalLogin(
            for: client, username: PortalUsername(username), password: PortalPassword(new: password))
        return client
    }

    /// Every text value stored anywhere in the database.
    func allStoredText() throws -> [String] {
        try snapshot().values.flatMap { $0 }.flatMap { $0 }.compactMap {
            if case .text(let text) = $0 { return text }
            return nil
        }
    }

    /// One column of one table, read through a separate connection.
    func column(_ sql: String) throws -> [SQLiteValue] {
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return try db.rows(sql) { $0.value(0) }
    }
}

extension PortalAccounts {
    /// Logs in from plain strings, as the wire layer will.
    func login(_ username: String, _ password: String) async throws -> PortalSession {
        try await login(username: PortalUsername(username), password: PortalPassword(presented: password))
    }

    /// KDF derivations run so far.
    var derivations: Int { hasher.derivationCount.withLock { $0 } }
}

/// The error `body` throws (failing the test when it does not throw one).
func portalError<T>(
    file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async -> PortalError? {
    do {
        _ = try await body()
        XCTFail("expected a PortalError, but the call succeeded", file: file, line: line)
    } catch let error as PortalError {
        return error
    } catch {
        XCTFail("expected a PortalError, got \(error)", file: file, line: line)
    }
    return nil
}
