import PortalDomain

extension PortalStore {
    /// Adds a client: the minimum that holds and bookings need. The clients
    /// issue adds updates, listing and portal logins on the same table.
    ///
    /// - Throws: ``PortalError`` `invalidArgument`: `INVALID_NAME` (1–200
    ///   characters, not blank), `INVALID_EMAIL` (at most 254),
    ///   `INVALID_PHONE` (at most 40).
    public func createClient(
        name: String, email: String = "", phone: String = "", canSelfReschedule: Bool = false
    ) async throws -> Client {
        let nameScalars = name.unicodeScalars
        guard (1...200).contains(nameScalars.count),
            !nameScalars.allSatisfy({ $0.properties.isWhitespace }),
            !nameScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw PortalError.invalidArgument(
                .invalidName, "The name must be 1-200 characters and not blank.", field: "name")
        }
        guard email.unicodeScalars.count <= 254 else {
            throw PortalError.invalidArgument(
                .invalidEmail, "The e-mail address may be at most 254 characters.", field: "email")
        }
        guard phone.unicodeScalars.count <= 40 else {
            throw PortalError.invalidArgument(
                .invalidPhone, "The phone number may be at most 40 characters.", field: "phone")
        }
        return try await write { db, now in
            try db.run(
                """
                INSERT INTO clients (name, email, phone, can_self_reschedule, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                """,
                [.text(name), .text(email), .text(phone), .bool(canSelfReschedule), .integer(now.unixSeconds)])
            let id = ClientID(rawValue: db.lastInsertRowID)
            try AuditLog.append(db, entity: "client", id: id.rawValue, event: "client.created", at: now)
            return Client(
                id: id, name: name, email: email, phone: phone,
                canSelfReschedule: canSelfReschedule, createdAt: now)
        }
    }

    /// One client.
    ///
    /// - Throws: ``PortalError`` `notFound` / `CLIENT_NOT_FOUND`.
    public func client(_ id: ClientID) async throws -> Client {
        try await read { db, _ in
            guard
                let client = try db.row(
                    "SELECT \(StoredRow.clientColumns) FROM clients WHERE client_id = ?",
                    [.integer(id.rawValue)], StoredRow.client)
            else {
                throw PortalError.notFound(
                    .clientNotFound, "Client \(id) does not exist.", details: ["client_id": "\(id)"])
            }
            return client
        }
    }
}
