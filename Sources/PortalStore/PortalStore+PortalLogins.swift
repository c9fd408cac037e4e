import PortalDomain

// Portal logins (portal_users linked from clients.portal_user_id): the staff
// bulk actions, and the steps PortalAccounts runs for new logins. Each bulk
// action is one transaction with one result per requested id, in order.

extension PortalStore {
    /// Disables the portal login of each client (`DisablePortalLogin`): the
    /// user becomes inactive, so it cannot log in, and its open sessions
    /// fail on their next call with `unauthenticated` / `LOGIN_DISABLED`.
    /// The account (username, password, sessions) stays.
    ///
    /// - Returns: per id: `done` (also when already disabled), `notFound`,
    ///   `noLogin`.
    public func disablePortalLogins(for clients: ClientIDList) async throws -> [ClientActionResult] {
        try await setPortalLoginsActive(false, for: clients)
    }

    /// Enables the portal login of each client again (`EnablePortalLogin`).
    /// Sessions opened before the login was disabled do not come back to
    /// life: enabling ends them, and the client logs in afresh.
    ///
    /// - Returns: per id: `done` (also when already enabled), `notFound`,
    ///   `noLogin`.
    public func enablePortalLogins(for clients: ClientIDList) async throws -> [ClientActionResult] {
        try await setPortalLoginsActive(true, for: clients)
    }

    /// Removes the portal login of each client (`RemovePortalLogin`): unlinks
    /// the user from the client and ends its sessions; with `deleteUser` the
    /// user is deleted too, otherwise it stays (inactive for the portal,
    /// since a user without a client cannot log in) and keeps its username.
    ///
    /// - Returns: per id: `done`, `notFound`, `noLogin`.
    public func removePortalLogins(for clients: ClientIDList, deleteUser: Bool) async throws
        -> [ClientActionResult]
    {
        try await write { db, now in
            try clients.ids.map { id in
                let lookup = try Self.portalUser(db, of: id)
                guard case .linked(let userID) = lookup else {
                    return ClientActionResult(client: id, outcome: lookup.outcome)
                }
                try db.run(
                    "UPDATE clients SET portal_user_id = NULL, updated_at = ?2 WHERE client_id = ?1",
                    [.integer(id.rawValue), .integer(now.unixSeconds)])
                try db.run("DELETE FROM sessions WHERE user_id = ?", [.integer(userID)])
                if deleteUser {
                    try db.run("DELETE FROM portal_users WHERE user_id = ?", [.integer(userID)])
                }
                try AuditLog.append(
                    db, entity: "client", id: id.rawValue, event: "portal_login.removed", at: now,
                    ["user_id": .int(userID), "user_deleted": .bool(deleteUser)])
                return ClientActionResult(client: id, outcome: .done)
            }
        }
    }

    private func setPortalLoginsActive(_ active: Bool, for clients: ClientIDList) async throws
        -> [ClientActionResult]
    {
        try await write { db, now in
            try clients.ids.map { id in
                let lookup = try Self.portalUser(db, of: id)
                guard case .linked(let userID) = lookup else {
                    return ClientActionResult(client: id, outcome: lookup.outcome)
                }
                try db.run(
                    "UPDATE portal_users SET is_active = ?2, updated_at = ?3 WHERE user_id = ?1 AND is_active <> ?2",
                    [.integer(userID), .bool(active), .integer(now.unixSeconds)])
                if db.changes > 0 {
                    if active {
                        // Sessions stopped working when the login was
                        // disabled; they stay ended.
                        try db.run("DELETE FROM sessions WHERE user_id = ?", [.integer(userID)])
                    }
                    try AuditLog.append(
                        db, entity: "client", id: id.rawValue,
                        event: active ? "portal_login.enabled" : "portal_login.disabled", at: now,
                        ["user_id": .int(userID)])
                }
                return ClientActionResult(client: id, outcome: .done)
            }
        }
    }

    // MARK: Steps of PortalAccounts

    /// Why a client's login cannot be created, checked before the password
    /// is hashed so that a doomed request costs no KDF work (the write
    /// checks again under the lock).
    func checkNewPortalLogin(for client: ClientID, username: PortalUsername) async throws {
        try await read { db, _ in try Self.checkNewPortalLogin(db, client: client, username: username) }
    }

    /// Creates the portal user and links it to the client, in one
    /// transaction with an audit entry.
    func insertPortalLogin(for client: ClientID, username: PortalUsername, passwordHash: String)
        async throws -> ClientDetails
    {
        try await write { db, now in
            try Self.checkNewPortalLogin(db, client: client, username: username)
            try db.run(
                """
                INSERT INTO portal_users (username, password_hash, is_active, created_at, updated_at)
                VALUES (?1, ?2, 1, ?3, ?3)
                """,
                [.text(username.rawValue), .text(passwordHash), .integer(now.unixSeconds)])
            let userID = db.lastInsertRowID
            try db.run(
                "UPDATE clients SET portal_user_id = ?2, updated_at = ?3 WHERE client_id = ?1",
                [.integer(client.rawValue), .integer(userID), .integer(now.unixSeconds)])
            try AuditLog.append(
                db, entity: "client", id: client.rawValue, event: "portal_login.created", at: now,
                ["user_id": .int(userID)])
            return try Self.clientDetails(db, client)
        }
    }

    /// What the login step needs about a username: its user id, stored
    /// password hash and whether it may log in (active and linked to a
    /// client), or `nil` when no user has it.
    func passwordHash(of username: PortalUsername) async throws
        -> (userID: Int64, hash: String, mayLogIn: Bool)?
    {
        try await read { db, _ in
            try db.row(
                """
                SELECT u.user_id, u.password_hash, u.is_active AND c.client_id IS NOT NULL
                FROM portal_users u LEFT JOIN clients c ON c.portal_user_id = u.user_id
                WHERE u.username = ?
                """,
                [.text(username.rawValue)], { (userID: $0.int64(0), hash: $0.text(1), mayLogIn: $0.bool(2)) })
        }
    }

    // MARK: Shared steps

    enum PortalUserLookup {
        case clientNotFound
        case noLogin
        case linked(userID: Int64)

        var outcome: ClientActionOutcome {
            switch self {
            case .clientNotFound: .notFound
            case .noLogin: .noLogin
            case .linked: .done
            }
        }
    }

    static func portalUser(_ db: SQLiteConnection, of client: ClientID) throws -> PortalUserLookup {
        guard
            let userID = try db.row(
                "SELECT portal_user_id FROM clients WHERE client_id = ?",
                [.integer(client.rawValue)], { $0.optionalInt64(0) })
        else { return .clientNotFound }
        return userID.map { .linked(userID: $0) } ?? .noLogin
    }

    static func checkNewPortalLogin(_ db: SQLiteConnection, client: ClientID, username: PortalUsername)
        throws
    {
        switch try portalUser(db, of: client) {
        case .clientNotFound:
            throw PortalError.clientNotFound(client)
        case .linked:
            throw PortalError(
                .alreadyExists, .portalLoginExists, "Client \(client) already has a portal login.",
                details: ["client_id": "\(client)"])
        case .noLogin:
            break
        }
        guard
            try db.integer(
                "SELECT 1 FROM portal_users WHERE username = ?", [.text(username.rawValue)]) == nil
        else {
            throw PortalError(
                .alreadyExists, .usernameTaken, "The username is already in use.",
                details: ["field": "username"])
        }
    }
}
