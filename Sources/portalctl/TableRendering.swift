import PortalMessages
import PortalWire

/// Plain-text tables for the terminal: left-aligned columns separated by two
/// spaces, no trailing blanks. Widths are terminal columns: an emoji or a
/// CJK character takes two (``terminalWidth(of:)``).
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    func render() -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], Self.terminalWidth(of: cell))
            }
        }
        return all.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                line += cell
                if index < row.count - 1 {
                    line += String(repeating: " ", count: widths[index] - Self.terminalWidth(of: cell) + 2)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }

    /// The columns `text` takes in a terminal: two for a character shown as
    /// an emoji or in East Asian wide or full width, one for any other (a
    /// base letter with its combining marks is one character).
    static func terminalWidth(of text: String) -> Int {
        text.reduce(0) { width, character in
            guard let first = character.unicodeScalars.first else { return width }
            let wide =
                first.properties.isEmojiPresentation
                || character.unicodeScalars.contains { $0.value == 0xFE0F }  // emoji variation selector
                || wideRanges.contains { $0.contains(first.value) }
            return width + (wide ? 2 : 1)
        }
    }

    /// East Asian Wide and Fullwidth blocks (Hangul Jamo, CJK, Hangul
    /// syllables, compatibility ideographs, fullwidth forms, the
    /// supplementary ideographic planes).
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
        0xFFE0...0xFFE6, 0x20000...0x3FFFD,
    ]
}

/// How portalctl shows the server's answers.
enum Rendering {
    /// A day as a table: one row per block ("HH:MM-HH:MM Label (#id)"), one
    /// column per service offered anywhere that day, cells
    /// "capacity/booked/held/remaining" ("-" where the block does not offer
    /// the service; "*" marks a capacity that allows overlapping bookings).
    ///
    /// ```
    /// 2025-10-08  (cells: capacity/booked/held/remaining)
    /// Block                         daycare  walk
    /// 09:00-12:00 Morning Run (#1)  -        5/0/0/5
    /// 13:00-16:00 Afternoon (#2)    2/0/0/2  3/0/0/3
    /// ```
    static func day(date: String, timeZone: String = "", blocks: [BlockCapacities]) -> String {
        guard !blocks.isEmpty else { return "No blocks on \(date)." }
        let services = Set(blocks.flatMap { $0.capacities.map(\.serviceCode) }).sorted()
        var table = TextTable(header: ["Block"] + services)
        var anyOverlap = false
        for entry in blocks {
            let block = entry.block ?? TimetableBlock()
            var row = ["\(block.startTime)-\(block.endTime) \(block.label) (#\(block.blockId))"]
            for service in services {
                if let capacity = entry.capacities.first(where: { $0.serviceCode == service }) {
                    anyOverlap = anyOverlap || capacity.allowOverlap
                    row.append(
                        "\(capacity.capacity)/\(capacity.booked)/\(capacity.held)/\(capacity.remaining)"
                            + (capacity.allowOverlap ? "*" : ""))
                } else {
                    row.append("-")
                }
            }
            table.rows.append(row)
        }
        let zone = timeZone.isEmpty ? "" : " \(timeZone) time"
        var lines = ["\(date)\(zone)  (cells: capacity/booked/held/remaining)", table.render()]
        if services.isEmpty { lines.append("No services are offered in these blocks yet.") }
        if anyOverlap { lines.append("* one client may hold overlapping bookings of this service") }
        return lines.joined(separator: "\n")
    }

    /// A day's bookings: time, service, client, label, amount, payment state.
    static func bookings(date: String, _ bookings: [Booking]) -> String {
        guard !bookings.isEmpty else { return "No bookings on \(date)." }
        var table = TextTable(header: ["Booking", "Time", "Service", "Client", "Label", "Amount", "Payment"])
        for booking in bookings {
            var payment = paymentState(booking.paymentState)
            if booking.status == .cancelled { payment += " (booking cancelled)" }
            table.rows.append([
                "#\(booking.bookingId)", "\(booking.startTime)-\(booking.endTime)", booking.serviceCode,
                "#\(booking.clientId)", booking.blockLabel,
                money(booking.amountCents, currency: booking.currency), payment,
            ])
        }
        return table.render()
    }

    /// Calls per method since the server started: count, non-OK answers by
    /// status code, latency percentiles.
    static func metrics(_ metrics: GetMetricsResponse) -> String {
        let since = "in \(metrics.uptimeSeconds) s since the server started"
        guard !metrics.methods.isEmpty else { return "No calls \(since)." }
        var table = TextTable(header: ["Method", "Calls", "Errors", "p50", "p90", "p99", "Max"])
        for method in metrics.methods {
            let errors = method.statuses.filter { $0.code != 0 }
                .map { "\(StatusCode(rawValue: $0.code)) \($0.count)" }
            table.rows.append([
                method.method, "\(method.calls)", errors.isEmpty ? "-" : errors.joined(separator: ", "),
                duration(method.p50Us), duration(method.p90Us), duration(method.p99Us), duration(method.maxUs),
            ])
        }
        return "Calls \(since):\n" + table.render()
    }

    /// Microseconds as "850 µs", "12.4 ms" or "3.20 s".
    static func duration(_ microseconds: UInt64) -> String {
        if microseconds < 1_000 { return "\(microseconds) µs" }
        if microseconds < 1_000_000 { return String(format: "%.1f ms", Double(microseconds) / 1_000) }
        return String(format: "%.2f s", Double(microseconds) / 1_000_000)
    }

    /// Service defaults, by code.
    static func services(_ services: [ServiceDefaults]) -> String {
        guard !services.isEmpty else { return "No services yet." }
        var table = TextTable(header: ["Service", "Duration", "Price", "Notes"])
        for service in services.sorted(by: { $0.serviceCode < $1.serviceCode }) {
            table.rows.append([
                service.serviceCode, "\(service.durationMinutes) min",
                money(service.priceCents, currency: service.currency), service.notes,
            ])
        }
        return table.render()
    }

    /// One block on one line: "2025-10-08 09:00-12:00 Morning Run (#1)".
    static func block(_ block: TimetableBlock) -> String {
        "\(block.date) \(block.startTime)-\(block.endTime) \(block.label) (#\(block.blockId))"
    }

    /// One capacity row: "walk: capacity 5, booked 0, held 0, remaining 5".
    static func capacity(_ capacity: ServiceCapacity) -> String {
        "\(capacity.serviceCode): capacity \(capacity.capacity), booked \(capacity.booked), "
            + "held \(capacity.held), remaining \(capacity.remaining)"
            + (capacity.allowOverlap ? ", overlapping bookings allowed" : ", no overlapping bookings per client")
    }

    /// Minor units as a decimal amount with the currency: "12.50 GBP",
    /// "500 JPY" for currencies without minor units.
    static func money(_ cents: Int64, currency: String) -> String {
        let code = currency.uppercased()
        if zeroDecimalCurrencies.contains(currency.lowercased()) { return "\(cents) \(code)" }
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = String(magnitude % 100)
        return "\(sign)\(magnitude / 100).\(fraction.count < 2 ? "0" : "")\(fraction) \(code)"
    }

    /// Stripe's currencies without minor units.
    private static let zeroDecimalCurrencies: Set<String> = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ]

    static func paymentState(_ state: PaymentState) -> String {
        switch state {
        case .capturePending: "capture pending"
        case .captured: "captured"
        case .canceled: "canceled"
        case .refunded: "refunded"
        case .unspecified: "unknown"
        case .unrecognized(let value): "unknown (\(value))"
        }
    }
}
