import PortalDomain

/// The result of ``PortalStore/upsertService(_:)``.
public struct ServiceUpsert: Hashable, Sendable {
    /// The service as stored.
    public let service: ServiceDefaults
    /// True when the service did not exist before.
    public let created: Bool

    /// Creates a result.
    public init(service: ServiceDefaults, created: Bool) {
        self.service = service
        self.created = created
    }
}

extension PortalStore {
    /// Creates or replaces the defaults of one service (`UpsertService`).
    ///
    /// Existing bookings keep the price and duration they were sold with.
    public func upsertService(_ service: ServiceDefaults) async throws -> ServiceUpsert {
        try await write { db, now in
            let existed =
                try db.integer(
                    "SELECT 1 FROM services WHERE service_code = ?", [.text(service.code.rawValue)]) != nil
            try db.run(
                """
                INSERT INTO services
                    (service_code, duration_minutes, price_cents, currency, notes, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                ON CONFLICT (service_code) DO UPDATE SET
                    duration_minutes = excluded.duration_minutes,
                    price_cents = excluded.price_cents,
                    currency = excluded.currency,
                    notes = excluded.notes,
                    updated_at = excluded.updated_at
                """,
                [
                    .text(service.code.rawValue), .int(service.durationMinutes),
                    .integer(service.priceCents), .text(service.currency), .text(service.notes),
                    .integer(now.unixSeconds),
                ])
            try AuditLog.append(
                db, entity: "service", id: service.code.rawValue,
                event: existed ? "service.updated" : "service.created", at: now,
                [
                    "duration_minutes": .int(service.durationMinutes),
                    "price_cents": .int(service.priceCents), "currency": .text(service.currency),
                ])
            return ServiceUpsert(service: service, created: !existed)
        }
    }

    /// Every service, ordered by code (`ListServices`).
    public func listServices() async throws -> [ServiceDefaults] {
        try await read { db, _ in
            try db.rows(
                "SELECT \(StoredRow.serviceColumns) FROM services ORDER BY service_code",
                [], { try StoredRow.serviceDefaults($0) })
        }
    }

    /// The defaults of one service.
    ///
    /// - Throws: ``PortalError`` `notFound` / `UNKNOWN_SERVICE`.
    public func service(_ code: ServiceCode) async throws -> ServiceDefaults {
        try await read { db, _ in try Query.service(db, code) }
    }

    /// The default duration of a service in minutes (the seed's
    /// `get_default_duration_minutes`).
    ///
    /// - Throws: ``PortalError`` `notFound` / `UNKNOWN_SERVICE`.
    public func defaultDuration(of code: ServiceCode) async throws -> Int {
        try await service(code).durationMinutes
    }
}
