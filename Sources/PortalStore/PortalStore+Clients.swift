import PortalDomain

extension PortalStore {
    /// Adds a client (`CreateClient`). A new client has no portal login.
    ///
    /// - Throws: ``PortalError`` `invalidArgument`: `INVALID_NAME` (1–200
    ///   characters, not blank), `INVALID_EMAIL` (at most 254, and plausibly
    ///   an address when not empty), `INVALID_PHONE` (at most 40).
    public func createClient(
        name: String, email: String = "", phone: String = "", canSelfReschedule: Bool = false
    ) async throws -> Client {
        try await createClient(
            name: ClientName(name), email: EmailAddress(email), phone: PhoneNumber(phone),
            canSelfReschedule: canSelfReschedule)
    }

    /// Adds a client from validated fields (`CreateClient`).
    public func createClient(
        name: ClientName, email: EmailAddress, phone: PhoneNumber, canSelfReschedule: Bool
    ) async throws -> Client {
        try await write { db, now in
            try db.run(
                """
                INSERT INTO clients (name, email, phone, can_self_reschedule, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                """,
                [
                    .text(name.rawValue), .text(email.rawValue), .text(phone.rawValue),
                    .bool(canSelfReschedule), .integer(now.unixSeconds),
                ])
            let id = ClientID(rawValue: db.lastInsertRowID)
            try AuditLog.append(
                db, entity: "client", id: id.rawValue, event: "client.created", at: now,
                ["can_self_reschedule": .bool(canSelfReschedule)])
            return Client(
                id: id, name: name.rawValue, email: email.rawValue, phone: phone.rawValue,
                canSelfReschedule: canSelfReschedule, createdAt: now)
        }
    }

    /// One client.
    ///
    /// - Throws: ``PortalError`` `notFound` / `CLIENT_NOT_FOUND`.
    public func client(_ id: ClientID) async throws -> Client {
        try await clientDetails(id).client
    }

    /// One client with its portal login (`GetClient`).
    ///
    /// - Throws: ``PortalError`` `notFound` / `CLIENT_NOT_FOUND`.
    public func clientDetails(_ id: ClientID) async throws -> ClientDetails {
        try await read { db, _ in try Self.clientDetails(db, id) }
    }

    /// Changes a client's name or contact details (`UpdateClient`); fields
    /// left `nil` stay as they are. An audit entry names the changed fields
    /// (not their values: contact details are personal data).
    ///
    /// - Throws: ``PortalError`` `notFound` / `CLIENT_NOT_FOUND`.
    public func updateClient(_ id: ClientID, _ changes: ClientChanges) async throws -> ClientDetails {
        try await write { db, now in
            let current = try Self.clientDetails(db, id)
            guard !changes.isEmpty else { return current }
            try db.run(
                """
                UPDATE clients SET name = coalesce(?2, name), email = coalesce(?3, email),
                    phone = coalesce(?4, phone), updated_at = ?5
                WHERE client_id = ?1
                """,
                [
                    .integer(id.rawValue), .optionalText(changes.name?.rawValue),
                    .optionalText(changes.email?.rawValue), .optionalText(changes.phone?.rawValue),
                    .integer(now.unixSeconds),
                ])
            try AuditLog.append(
                db, entity: "client", id: id.rawValue, event: "client.updated", at: now,
                [
                    "name": .bool(changes.name != nil), "email": .bool(changes.email != nil),
                    "phone": .bool(changes.phone != nil),
                ])
            return try Self.clientDetails(db, id)
        }
    }

    /// One page of clients in id order (`ListClients`), each with its portal
    /// login; the next page starts after the last id of this one, so clients
    /// added meanwhile never shift a page.
    public func listClients(_ request: ClientPageRequest) async throws -> ClientPage {
        try await read { db, _ in
            var clients = try db.rows(
                """
                SELECT \(StoredRow.clientDetailsColumns)
                FROM clients c LEFT JOIN portal_users u ON u.user_id = c.portal_user_id
                WHERE c.client_id > ?1
                ORDER BY c.client_id
                LIMIT ?2
                """,
                [.integer(request.afterID), .int(request.pageSize + 1)], StoredRow.clientDetails)
            var next: String?
            if clients.count > request.pageSize {
                clients.removeLast(clients.count - request.pageSize)
                next = clients.last.map { ClientPageRequest.token(after: $0.id) }
            }
            return ClientPage(clients: clients, nextPageToken: next)
        }
    }

    /// Sets `can_self_reschedule` of each client (`SetCanSelfReschedule`),
    /// in one transaction; one result per id in request order: `done` (also
    /// when the flag already had the value) or `notFound`. An audit entry is
    /// written for each client whose flag changed.
    public func setCanSelfReschedule(_ value: Bool, for clients: ClientIDList) async throws
        -> [ClientActionResult]
    {
        try await write { db, now in
            try clients.ids.map { id in
                guard
                    let current = try db.row(
                        "SELECT can_self_reschedule FROM clients WHERE client_id = ?",
                        [.integer(id.rawValue)], { $0.bool(0) })
                else { return ClientActionResult(client: id, outcome: .notFound) }
                if current != value {
                    try db.run(
                        "UPDATE clients SET can_self_reschedule = ?2, updated_at = ?3 WHERE client_id = ?1",
                        [.integer(id.rawValue), .bool(value), .integer(now.unixSeconds)])
                    try AuditLog.append(
                        db, entity: "client", id: id.rawValue, event: "client.reschedule_flag_set",
                        at: now, ["can_self_reschedule": .bool(value)])
                }
                return ClientActionResult(client: id, outcome: .done)
            }
        }
    }

    // MARK: Shared steps

    /// A client with its login, inside the caller's transaction.
    static func clientDetails(_ db: SQLiteConnection, _ id: ClientID) throws -> ClientDetails {
        guard
            let details = try db.row(
                """
                SELECT \(StoredRow.clientDetailsColumns)
                FROM clients c LEFT JOIN portal_users u ON u.user_id = c.portal_user_id
                WHERE c.client_id = ?
                """,
                [.integer(id.rawValue)], StoredRow.clientDetails)
        else { throw PortalError.clientNotFound(id) }
        return details
    }
}

extension StoredRow {
    /// Columns of a client with its login, in ``clientDetails(_:)`` order
    /// (`c` = clients, `u` = portal_users, left-joined).
    static let clientDetailsColumns = """
        c.client_id, c.name, c.email, c.phone, c.can_self_reschedule, c.created_at,
        u.username, u.is_active
        """

    static func clientDetails(_ row: SQLiteRow) -> ClientDetails {
        ClientDetails(
            client: client(row),
            login: row.optionalText(6).map {
                PortalLogin(username: PortalUsername(uncheckedRawValue: $0), isActive: row.bool(7))
            })
    }
}
