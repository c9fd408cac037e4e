import PortalDomain

/// Data read back from the database failed the domain's validation: the file
/// was edited by hand or damaged. Reported as a generic internal error.
struct StoredDataError: Error, CustomStringConvertible {
    let what: String
    var description: String { "stored \(what) is invalid" }
}

/// Decoders from result rows to domain values. Every value was validated on
/// the way in, so a failure here means a damaged database.
enum StoredRow {
    /// Columns of a block, in ``block(_:at:)`` order.
    static let blockColumns = "b.block_id, b.date, b.start_minute, b.end_minute, b.label"

    static func date(_ text: String) throws -> LocalDate {
        do { return try LocalDate(text) } catch { throw StoredDataError(what: "date") }
    }

    static func time(_ minutes: Int) throws -> TimeOfDay {
        guard let time = TimeOfDay(minutesSinceMidnight: minutes) else {
            throw StoredDataError(what: "time")
        }
        return time
    }

    static func service(_ text: String) throws -> ServiceCode {
        do { return try ServiceCode(text) } catch { throw StoredDataError(what: "service code") }
    }

    /// A block from five columns starting at `offset` (see ``blockColumns``).
    static func block(_ row: SQLiteRow, at offset: Int32 = 0) throws -> TimetableBlock {
        do {
            return TimetableBlock(
                id: BlockID(rawValue: row.int64(offset)),
                date: try date(row.text(offset + 1)),
                times: try BlockTimes(
                    start: time(row.int(offset + 2)), end: time(row.int(offset + 3))),
                label: try BlockLabel(row.text(offset + 4)))
        } catch let error as StoredDataError {
            throw error
        } catch {
            throw StoredDataError(what: "block")
        }
    }

    /// Columns of a service, in ``serviceDefaults(_:)`` order.
    static let serviceColumns = "service_code, duration_minutes, price_cents, currency, notes"

    /// A service from five columns starting at `offset` (see ``serviceColumns``).
    static func serviceDefaults(_ row: SQLiteRow, at offset: Int32 = 0) throws -> ServiceDefaults {
        do {
            return try ServiceDefaults(
                code: service(row.text(offset)), durationMinutes: row.int(offset + 1),
                priceCents: row.int64(offset + 2), currency: row.text(offset + 3), notes: row.text(offset + 4))
        } catch {
            throw StoredDataError(what: "service")
        }
    }

    /// Columns of a hold, in ``hold(_:)`` order.
    static let holdColumns = """
        h.token, h.block_id, h.service_code, h.client_id, h.created_at, h.expires_at, h.state,
        h.amount_cents, h.currency, h.payment_intent_id
        """

    static func hold(_ row: SQLiteRow) throws -> CapacityHold {
        guard let state = HoldState(rawValue: row.text(6)) else {
            throw StoredDataError(what: "hold state")
        }
        return CapacityHold(
            token: HoldToken(uncheckedRawValue: row.text(0)),
            block: BlockID(rawValue: row.int64(1)),
            service: try service(row.text(2)),
            client: ClientID(rawValue: row.int64(3)),
            createdAt: Instant(unixSeconds: row.int64(4)),
            expiresAt: Instant(unixSeconds: row.int64(5)),
            state: state,
            amountCents: row.int64(7),
            currency: row.text(8),
            paymentIntentID: row.optionalText(9))
    }

    /// Columns of a booking, in ``booking(_:)`` order.
    static let bookingColumns = """
        k.booking_id, k.client_id, k.service_code, k.block_id, k.date, k.start_minute,
        k.duration_minutes, k.block_label, k.amount_cents, k.currency, k.payment_intent_id,
        k.status, k.payment_state, k.created_at
        """

    static func booking(_ row: SQLiteRow) throws -> Booking {
        guard let status = BookingStatus(rawValue: row.text(11)),
            let paymentState = PaymentState(rawValue: row.text(12))
        else { throw StoredDataError(what: "booking state") }
        return Booking(
            id: BookingID(rawValue: row.int64(0)),
            client: ClientID(rawValue: row.int64(1)),
            service: try service(row.text(2)),
            block: row.optionalInt64(3).map(BlockID.init(rawValue:)),
            date: try date(row.text(4)),
            startTime: try time(row.int(5)),
            durationMinutes: row.int(6),
            blockLabel: row.text(7),
            amountCents: row.int64(8),
            currency: row.text(9),
            paymentIntentID: row.text(10),
            status: status,
            paymentState: paymentState,
            createdAt: Instant(unixSeconds: row.int64(13)))
    }

    /// Columns of a client, in ``client(_:)`` order.
    static let clientColumns = "client_id, name, email, phone, can_self_reschedule, created_at"

    static func client(_ row: SQLiteRow) -> Client {
        Client(
            id: ClientID(rawValue: row.int64(0)), name: row.text(1), email: row.text(2),
            phone: row.text(3), canSelfReschedule: row.bool(4),
            createdAt: Instant(unixSeconds: row.int64(5)))
    }
}

/// A value in an audit entry's JSON detail.
enum AuditValue {
    case int(Int64)
    case text(String)
    case bool(Bool)
    case null

    static func int(_ value: Int) -> AuditValue { .int(Int64(value)) }
}

/// The append-only audit log: one entry per state change of a hold, booking
/// or timetable entity, written in the same transaction as the change.
enum AuditLog {
    static func append(
        _ db: SQLiteConnection, entity: String, id: Int64, event: String, at now: Instant,
        _ detail: KeyValuePairs<String, AuditValue> = [:]
    ) throws {
        try append(db, entity: entity, id: String(id), event: event, at: now, detail)
    }

    static func append(
        _ db: SQLiteConnection, entity: String, id: String, event: String, at now: Instant,
        _ detail: KeyValuePairs<String, AuditValue> = [:]
    ) throws {
        try append(db, entity: entity, id: id, event: event, at: now, entries: detail)
    }

    /// As the other `append`s, with the detail built at run time (entries
    /// that depend on the case), keys in the given order.
    static func append(
        _ db: SQLiteConnection, entity: String, id: String, event: String, at now: Instant,
        entries detail: some Sequence<(key: String, value: AuditValue)>
    ) throws {
        try db.run(
            "INSERT INTO audit_log (entity, entity_id, event, at, detail) VALUES (?, ?, ?, ?, ?)",
            [.text(entity), .text(id), .text(event), .integer(now.unixSeconds), .text(json(detail))])
    }

    /// A JSON object of the pairs, keys in the given order.
    ///
    /// Built as UTF-8 bytes in one buffer and made a `String` once (perf:
    /// the string concatenation it replaced was ≈ 3 % of the server's CPU
    /// under checkout load, on the writer's thread — session 11).
    static func json(_ pairs: some Sequence<(key: String, value: AuditValue)>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in pairs {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendQuoted(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .int(let number): out.append(contentsOf: String(number).utf8)
            case .text(let text): appendQuoted(text, to: &out)
            case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
            case .null: out.append(contentsOf: "null".utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string: quote and backslash escaped, control
    /// characters as `\n`, `\r`, `\t` or `\u00XX`, any other byte (all
    /// other UTF-8) copied as it is — the same text as escaping scalar by
    /// scalar, since every escaped character is ASCII.
    private static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            // Most values (codes, ids, currencies) need no escaping: copied whole.
            guard bytes.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 })
            else {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20:
                    out.append(contentsOf: [
                        UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                        hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)],
                    ])
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
