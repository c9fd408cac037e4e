extension PortalError.Reason {
    // MARK: Checkout (SPEC §2, pre-pay booking)

    /// `StartCheckout`'s `expected_price_cents` differs from the server's price
    /// (failedPrecondition; `details.price_cents` has the server's price).
    public static let priceChanged: PortalError.Reason = "PRICE_CHANGED"
    /// The service's price cannot be paid by card (it is 0); failedPrecondition.
    public static let priceNotPayable: PortalError.Reason = "PRICE_NOT_PAYABLE"
    /// The hold ran out before it was paid; its PaymentIntent was cancelled and
    /// the client not charged (failedPrecondition).
    public static let holdExpired: PortalError.Reason = "HOLD_EXPIRED"
    /// The hold was given up (`CancelCheckout`, or released because the payment
    /// provider could not be reached); failedPrecondition.
    public static let holdCancelled: PortalError.Reason = "HOLD_CANCELLED"
    /// The hold already became a booking, which `CancelCheckout` cannot undo
    /// (failedPrecondition).
    public static let holdAlreadyBooked: PortalError.Reason = "HOLD_ALREADY_BOOKED"
    /// The payment arrived after the hold expired and the block had no room
    /// left: the PaymentIntent was cancelled, the client not charged
    /// (failedPrecondition).
    public static let capacityGone: PortalError.Reason = "CAPACITY_GONE"
    /// The PaymentIntent is not authorised (not paid yet, declined, needs
    /// 3-D Secure, cancelled); failedPrecondition. Nothing was written.
    public static let paymentNotConfirmed: PortalError.Reason = "PAYMENT_NOT_CONFIRMED"
    /// The PaymentIntent does not belong to this hold (another id, amount,
    /// currency or metadata); failedPrecondition. Nothing was written.
    public static let paymentMismatch: PortalError.Reason = "PAYMENT_MISMATCH"
    /// The payment provider could not be reached or failed; unavailable, retry
    /// later. Nothing is left taken.
    public static let paymentProviderUnavailable: PortalError.Reason = "PAYMENT_PROVIDER_UNAVAILABLE"
    /// The server has no payment provider configured; failedPrecondition.
    public static let paymentsNotConfigured: PortalError.Reason = "PAYMENTS_NOT_CONFIGURED"
    /// A PaymentIntent id is not in Stripe's format (`pi_` and letters,
    /// digits, underscores); invalidArgument.
    public static let invalidPaymentIntentID: PortalError.Reason = "INVALID_PAYMENT_INTENT_ID"
}

extension PortalError {
    /// `PRICE_CHANGED`: the price is now `price` minor units
    /// (`details.price_cents`).
    public static func priceChanged(_ price: Int64) -> PortalError {
        .failedPrecondition(
            .priceChanged, "The price has changed; it is now \(price) minor units.",
            details: ["price_cents": String(price)])
    }
}
