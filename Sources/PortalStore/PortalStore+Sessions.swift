import PortalDomain

// Portal sessions. The sessions table holds only the SHA-256 of each token
// (see sessionTokenHash): a copy of the database does not let anyone act as
// a client. PortalAccounts drives these steps.

extension PortalStore {
    /// Opens a session for `userID` after its password checked out: in one
    /// transaction, re-reads the user (it may have been disabled, unlinked or
    /// deleted since the password was read), tidies the user's expired
    /// sessions, optionally stores an upgraded password hash, and inserts the
    /// session.
    ///
    /// - Throws: ``PortalError`` `unauthenticated` / `INVALID_CREDENTIALS`
    ///   when the user is gone, inactive or not linked to a client — at login
    ///   a disabled login answers exactly like a wrong password, so that the
    ///   answer never confirms a password (see docs/access.md).
    func openSession(
        userID: Int64, tokenHash: String, lifetimeSeconds: Int64, upgradedPasswordHash: String?
    ) async throws -> (client: ClientID, expiresAt: Instant) {
        try await write(changes: .sessions) { db, now in
            guard
                let (isActive, client) = try db.row(
                    """
                    SELECT u.is_active, c.client_id
                    FROM portal_users u LEFT JOIN clients c ON c.portal_user_id = u.user_id
                    WHERE u.user_id = ?
                    """,
                    [.integer(userID)], { ($0.bool(0), $0.optionalInt64(1)) }),
                isActive, let client
            else { throw PortalError.invalidCredentials }
            try db.run(
                "DELETE FROM sessions WHERE user_id = ?1 AND expires_at <= ?2",
                [.integer(userID), .integer(now.unixSeconds)])
            if let upgradedPasswordHash {
                try db.run(
                    "UPDATE portal_users SET password_hash = ?2, updated_at = ?3 WHERE user_id = ?1",
                    [.integer(userID), .text(upgradedPasswordHash), .integer(now.unixSeconds)])
            }
            let expiresAt = now.adding(seconds: lifetimeSeconds)
            try db.run(
                """
                INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                VALUES (?1, ?2, ?3, ?4)
                """,
                [.text(tokenHash), .integer(userID), .integer(now.unixSeconds), .integer(expiresAt.unixSeconds)])
            return (ClientID(rawValue: client), expiresAt)
        }
    }

    /// The client a live session acts for: one read by the token hash's
    /// unique index, joined to the user and its client.
    ///
    /// - Throws: ``PortalError`` `unauthenticated`: `INVALID_CREDENTIALS` for
    ///   an unknown, expired or logged-out session, or one whose login was
    ///   removed; `LOGIN_DISABLED` when the login is disabled.
    func sessionClient(tokenHash: String) async throws -> ClientID {
        try await sessionClientAndExpiry(tokenHash: tokenHash).client
    }

    /// ``sessionClient(tokenHash:)`` and when the session ends.
    func sessionClientAndExpiry(tokenHash: String) async throws -> (client: ClientID, expiresAt: Instant) {
        try await readers.perform { [clock] db in
            // One statement is one consistent snapshot: no explicit
            // transaction needed on this hot path.
            guard
                let (expiresAt, isActive, client) = try db.row(
                    """
                    SELECT s.expires_at, u.is_active, c.client_id
                    FROM sessions s
                    JOIN portal_users u ON u.user_id = s.user_id
                    LEFT JOIN clients c ON c.portal_user_id = s.user_id
                    WHERE s.token_hash = ?
                    """,
                    [.text(tokenHash)], { ($0.int64(0), $0.bool(1), $0.optionalInt64(2)) }),
                expiresAt > clock.now.unixSeconds, let client
            else { throw PortalError.invalidCredentials }
            guard isActive else { throw PortalError.loginDisabled }
            return (ClientID(rawValue: client), Instant(unixSeconds: expiresAt))
        }
    }

    /// Ends the session with this token hash; ending one that does not
    /// exist (already ended or expired) is not an error.
    func endSession(tokenHash: String) async throws {
        try await write(changes: .sessions) { db, _ in
            try db.run("DELETE FROM sessions WHERE token_hash = ?", [.text(tokenHash)])
        }
    }

    /// Deletes sessions that expired at the clock's now; the server may call
    /// it periodically (expired sessions already never authenticate).
    /// Returns how many were removed.
    ///
    /// - Parameter limit: the most removed in one call (one short
    ///   transaction), default 1000; call again while it returns `limit`.
    @discardableResult
    public func purgeExpiredSessions(limit: Int = 1000) async throws -> Int {
        try await write(changes: .sessions) { db, now in
            try db.run(
                """
                DELETE FROM sessions WHERE session_id IN (
                    SELECT session_id FROM sessions WHERE expires_at <= ?1
                    ORDER BY expires_at LIMIT ?2)
                """,
                [.integer(now.unixSeconds), .int(limit)])
            return db.changes
        }
    }
}
