// Reasons of the clients, portal logins, sessions and reschedule capability
// (issue 4). Kept beside PortalError.swift rather than in it so that the
// capabilities that land in parallel do not edit the same lines.

extension PortalError.Reason {
    // MARK: Malformed input (invalidArgument)

    /// A portal username is not 3–64 characters of `a-z`, `A-Z`, `0-9`,
    /// `.`, `_`, `-` and `@`.
    public static let invalidUsername: PortalError.Reason = "INVALID_USERNAME"
    /// A password is shorter or longer than allowed (8–256 bytes for a new
    /// login, 1–256 bytes when logging in).
    public static let invalidPassword: PortalError.Reason = "INVALID_PASSWORD"
    /// A bulk action names no client, more than 1000, or an id that is not
    /// positive.
    public static let invalidClientIDs: PortalError.Reason = "INVALID_CLIENT_IDS"
    /// A page size is negative.
    public static let invalidPageSize: PortalError.Reason = "INVALID_PAGE_SIZE"
    /// A page token is not one this server issued.
    public static let invalidPageToken: PortalError.Reason = "INVALID_PAGE_TOKEN"

    // MARK: Missing entities (notFound)

    /// No booking has this id — or it is not the caller's (never a hint
    /// that it exists).
    public static let bookingNotFound: PortalError.Reason = "BOOKING_NOT_FOUND"

    // MARK: Conflicts (alreadyExists)

    /// Another portal user already has this username.
    public static let usernameTaken: PortalError.Reason = "USERNAME_TAKEN"
    /// The client already has a portal login.
    public static let portalLoginExists: PortalError.Reason = "PORTAL_LOGIN_EXISTS"

    // MARK: State (failedPrecondition)

    /// The booking is cancelled, so it holds no slot that could move.
    public static let bookingNotConfirmed: PortalError.Reason = "BOOKING_NOT_CONFIRMED"

    // MARK: Access (unauthenticated, permissionDenied, resourceExhausted)

    /// Wrong username or password, or an unknown, expired, logged-out or
    /// removed session. Wrong username and wrong password are deliberately
    /// the same answer.
    public static let invalidCredentials: PortalError.Reason = "INVALID_CREDENTIALS"
    /// The session's portal login was disabled by staff.
    public static let loginDisabled: PortalError.Reason = "LOGIN_DISABLED"
    /// Too many failed login attempts for this username; the error's
    /// `retry_after_seconds` detail says when to try again.
    public static let rateLimited: PortalError.Reason = "RATE_LIMITED"
    /// The client may not move its own bookings (`can_self_reschedule` is
    /// false).
    public static let rescheduleNotAllowed: PortalError.Reason = "RESCHEDULE_NOT_ALLOWED"
}

extension PortalError {
    /// Wrong username or password, or a session that is unknown, expired,
    /// logged out or removed: one answer for all of them, so that a caller
    /// learns nothing about which usernames exist.
    public static let invalidCredentials = PortalError(
        .unauthenticated, .invalidCredentials, "The username or password is wrong, or the session has ended.")

    /// A session whose portal login staff disabled.
    public static let loginDisabled = PortalError(
        .unauthenticated, .loginDisabled, "This portal login has been disabled.")

    /// Too many failed logins for one username.
    public static func rateLimited(retryAfterSeconds: Int64) -> PortalError {
        PortalError(
            .resourceExhausted, .rateLimited,
            "Too many failed login attempts; try again in \(retryAfterSeconds) seconds.",
            details: ["retry_after_seconds": String(retryAfterSeconds)])
    }

    /// A booking that does not exist or is not the caller's, named by the
    /// request's `booking_id`.
    public static func bookingNotFound(_ id: BookingID) -> PortalError {
        .notFound(
            .bookingNotFound, "Booking \(id) does not exist.",
            details: ["field": "booking_id", "booking_id": "\(id)"])
    }

    /// A client that does not exist; `field` names the request field that
    /// named it (none when it is the session's own client).
    public static func clientNotFound(_ id: ClientID, field: String? = "client_id") -> PortalError {
        var details = ["client_id": "\(id)"]
        if let field { details["field"] = field }
        return .notFound(.clientNotFound, "Client \(id) does not exist.", details: details)
    }

    /// A hold that does not exist or is not the caller's, named by the
    /// request's `hold_token` (which the answer does not repeat).
    public static var holdNotFound: PortalError {
        .notFound(.holdNotFound, "No such hold.", details: ["field": "hold_token"])
    }
}
