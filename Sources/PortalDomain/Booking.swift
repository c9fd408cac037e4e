/// The lifecycle of a ``Booking`` (proto `BookingStatus`).
public enum BookingStatus: String, Hashable, Sendable, CaseIterable {
    /// Paid (authorised or captured) and holding a slot.
    case confirmed
    /// Cancelled by staff; no longer holds a slot.
    case cancelled
}

/// Where a booking's money is (proto `PaymentState`).
public enum PaymentState: String, Hashable, Sendable, CaseIterable {
    /// Authorised; the capture is queued and will be retried until done.
    case capturePending = "capture_pending"
    /// Captured: the client has been charged.
    case captured
    /// The authorisation was released; the client was not charged.
    case canceled
    /// Captured and then refunded.
    case refunded
}

/// A confirmed, pre-paid booking of one service in one block.
///
/// It starts at the block's start and lasts the service's default duration
/// at booking time; the block's label is copied, so renaming the block later
/// does not rewrite history.
public struct Booking: Hashable, Sendable, Identifiable {
    /// Server-assigned id.
    public let id: BookingID
    /// The client who booked.
    public let client: ClientID
    /// The service booked.
    public let service: ServiceCode
    /// The block booked; `nil` only when the booking was cancelled and its
    /// block deleted afterwards (confirmed bookings keep their block alive).
    public let block: BlockID?
    /// The local date of the booking.
    public let date: LocalDate
    /// Start time of day (the block's start).
    public let startTime: TimeOfDay
    /// End time of day: start + the service's duration. It wraps past
    /// midnight ("20:00" + 480 minutes ends "04:00" the next day); ``span``
    /// has the unwrapped length.
    public let endTime: TimeOfDay
    /// The booking's span of local time, for overlap checks.
    public let span: LocalTimeSpan
    /// The block's label when the booking was made.
    public let blockLabel: String
    /// The amount paid, minor units.
    public let amountCents: Int64
    /// Currency of `amountCents`.
    public let currency: String
    /// The Stripe PaymentIntent id that paid for it.
    public let paymentIntentID: String
    /// The booking's status.
    public let status: BookingStatus
    /// The payment's state.
    public let paymentState: PaymentState
    /// When the booking was created.
    public let createdAt: Instant

    /// Creates a booking value (the store creates real bookings).
    public init(
        id: BookingID, client: ClientID, service: ServiceCode, block: BlockID?, date: LocalDate,
        startTime: TimeOfDay, durationMinutes: Int, blockLabel: String, amountCents: Int64,
        currency: String, paymentIntentID: String, status: BookingStatus,
        paymentState: PaymentState, createdAt: Instant
    ) {
        self.id = id
        self.client = client
        self.service = service
        self.block = block
        self.date = date
        self.startTime = startTime
        self.span = LocalTimeSpan(date: date, start: startTime, durationMinutes: durationMinutes)
        self.endTime = TimeOfDay(
            minutesSinceMidnight: (startTime.minutesSinceMidnight + durationMinutes) % 1440)!
        self.blockLabel = blockLabel
        self.amountCents = amountCents
        self.currency = currency
        self.paymentIntentID = paymentIntentID
        self.status = status
        self.paymentState = paymentState
        self.createdAt = createdAt
    }

    /// Length of the booking in minutes.
    public var durationMinutes: Int { span.end - span.start }

    /// The same booking in another payment state.
    public func with(paymentState: PaymentState) -> Booking {
        Booking(
            id: id, client: client, service: service, block: block, date: date, startTime: startTime,
            durationMinutes: durationMinutes, blockLabel: blockLabel, amountCents: amountCents,
            currency: currency, paymentIntentID: paymentIntentID, status: status,
            paymentState: paymentState, createdAt: createdAt)
    }
}

/// A customer of the business.
///
/// This issue needs only what holds and bookings refer to; the clients issue
/// adds validation rules for contact details and the portal login.
public struct Client: Hashable, Sendable, Identifiable {
    /// Server-assigned id.
    public let id: ClientID
    /// Full name.
    public let name: String
    /// Contact e-mail address; may be empty.
    public let email: String
    /// Contact phone number; may be empty.
    public let phone: String
    /// Whether the client may move its own bookings.
    public let canSelfReschedule: Bool
    /// When the client was created.
    public let createdAt: Instant

    /// Creates a client value (the store creates real clients).
    public init(
        id: ClientID, name: String, email: String, phone: String, canSelfReschedule: Bool,
        createdAt: Instant
    ) {
        self.id = id
        self.name = name
        self.email = email
        self.phone = phone
        self.canSelfReschedule = canSelfReschedule
        self.createdAt = createdAt
    }
}
