import PortalDomain

/// The blocks of a date that offer a service, as ``PortalStore/availableBlocks(on:for:)``
/// answers them, with what tells whether they are still current.
public struct AvailabilitySnapshot: Sendable {
    /// The blocks, in start-time then id order.
    public let blocks: [AvailableBlock]
    /// The date and service it answers, as the generations know them.
    public let scope: AvailabilityScope
    /// The scope's generation (``PortalStore/availabilityGenerations``)
    /// read before the snapshot was taken.
    public let generation: UInt64
    /// When the first hold counted in `blocks` expires; from then on a
    /// `remaining` may have grown. `nil` when no hold was counted.
    public let validUntil: Instant?

    /// Whether no hold counted in `blocks` has expired at `now`.
    func countsOnlyLiveHolds(at now: Instant) -> Bool {
        validUntil.map { now < $0 } ?? true
    }
}

/// A live portal session as the store answers it, with what tells whether
/// it is still current.
public struct SessionGrant: Sendable {
    /// The client the session acts for.
    public let client: ClientID
    /// When the session ends.
    public let expiresAt: Instant
    /// ``PortalStore/sessionsGeneration`` read before the session was read.
    public let generation: UInt64
}

extension PortalStore {
    /// Like ``availableBlocks(on:for:)``, and says until when and under which
    /// generation the answer stays true, so that a caller may keep it in
    /// memory (see ``isCurrent(_:)``).
    ///
    /// Calls for the same date and service that arrive while one's read
    /// runs, with no write committed in between, share that read
    /// (``SnapshotFlights``).
    public func availabilitySnapshot(on date: LocalDate, for service: ServiceCode) async throws
        -> AvailabilitySnapshot
    {
        // Read before the snapshot: a write committing in between makes the
        // answer stale at once, never fresh by mistake.
        let scope = AvailabilityScope(date: date, service: service)
        let generation = availabilityGenerations.current(scope)
        return try await snapshotFlights.snapshot(
            for: SnapshotFlights.Key(date: date, service: service), generation: generation,
            isUsable: { [clock] snapshot in snapshot.countsOnlyLiveHolds(at: clock.now) },
            read: {
                try await readAvailabilitySnapshot(on: date, for: service, scope: scope, generation: generation)
            })
    }

    /// One read of what ``availabilitySnapshot(on:for:)`` answers.
    private func readAvailabilitySnapshot(
        on date: LocalDate, for service: ServiceCode, scope: AvailabilityScope, generation: UInt64
    ) async throws -> AvailabilitySnapshot {
        let (blocks, firstExpiry) = try await read { db, now in
            let blocks = try Query.availableBlocks(db, date: date, service: service, now: now)
            let firstExpiry = try db.integer(
                """
                SELECT min(h.expires_at) FROM holds h JOIN blocks b ON b.block_id = h.block_id
                WHERE b.date = ?1 AND h.service_code = ?2 AND h.state = 'active' AND h.expires_at > ?3
                """,
                [.text(date.description), .text(service.rawValue), .integer(now.unixSeconds)])
            return (blocks, firstExpiry)
        }
        return AvailabilitySnapshot(
            blocks: blocks, scope: scope, generation: generation,
            validUntil: firstExpiry.map(Instant.init(unixSeconds:)))
    }

    /// Whether `snapshot` still shows what ``availableBlocks(on:for:)`` would
    /// answer now: no write that may change it has committed since, and no
    /// hold it counted has expired.
    public func isCurrent(_ snapshot: AvailabilitySnapshot) -> Bool {
        snapshot.generation == availabilityGenerations.current(snapshot.scope)
            && snapshot.countsOnlyLiveHolds(at: clock.now)
    }

    /// The live session with this token hash, as ``PortalAccounts`` checks
    /// it on every portal call, with the generation it was read at.
    ///
    /// - Throws: as `sessionClient(tokenHash:)`.
    func sessionGrant(tokenHash: String) async throws -> SessionGrant {
        let generation = sessionsGeneration.current
        let (client, expiresAt) = try await sessionClientAndExpiry(tokenHash: tokenHash)
        return SessionGrant(client: client, expiresAt: expiresAt, generation: generation)
    }
}
