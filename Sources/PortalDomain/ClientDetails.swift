/// A client's full name: 1–200 characters (Unicode scalars), not blank, no
/// control characters (a name is one line of text).
public struct ClientName: Hashable, Sendable, CustomStringConvertible {
    /// The name.
    public let rawValue: String

    /// Validates a name.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_NAME`.
    public init(_ text: String, field: String = "name") throws(PortalError) {
        let scalars = text.unicodeScalars
        guard (1...200).contains(scalars.count),
            !scalars.allSatisfy({ $0.properties.isWhitespace }),
            !scalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw .invalidArgument(
                .invalidName, "The name must be 1-200 characters and not blank.", field: field)
        }
        self.rawValue = text
    }

    /// The name.
    public var description: String { rawValue }
}

/// A client's contact e-mail address, or none (`""`).
///
/// At most 254 characters (RFC 5321's limit for a path), and when not empty
/// plausibly an address: one `@` between a local part of 1–64 characters and
/// a domain of dot-separated labels (at least two, each 1–63 characters, not
/// starting or ending with `-`), with no spaces or control characters. It is
/// not a full RFC 5322 parser — quoted local parts are refused — and it
/// cannot tell whether mail would arrive.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address, or `""` for none.
    public let rawValue: String

    /// No address.
    public static let none = EmailAddress(unchecked: "")

    private init(unchecked: String) { self.rawValue = unchecked }

    /// Validates an address; `""` means none.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_EMAIL`.
    public init(_ text: String, field: String = "email") throws(PortalError) {
        guard !text.isEmpty else {
            self = .none
            return
        }
        guard text.unicodeScalars.count <= 254 else {
            throw .invalidArgument(
                .invalidEmail, "The e-mail address may be at most 254 characters.", field: field)
        }
        guard EmailAddress.isPlausible(text) else {
            throw .invalidArgument(
                .invalidEmail, "The e-mail address must look like name@example.com.", field: field)
        }
        self.rawValue = text
    }

    /// Whether there is an address.
    public var isEmpty: Bool { rawValue.isEmpty }

    /// The address.
    public var description: String { rawValue }

    private static func isPlausible(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard
            !scalars.contains(where: {
                $0.properties.isWhitespace || $0.properties.generalCategory == .control
                    || $0 == "\"" || $0 == "(" || $0 == ")" || $0 == "<" || $0 == ">"
                    || $0 == "," || $0 == ";" || $0 == ":" || $0 == "\\" || $0 == "[" || $0 == "]"
            })
        else { return false }
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let local = parts[0]
        let domain = parts[1]
        guard (1...64).contains(local.count), local.first != ".", local.last != ".",
            !hasDoubleDot(local)
        else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
        }
    }

    private static func hasDoubleDot(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
        zip(scalars, scalars.dropFirst()).contains { $0 == "." && $1 == "." }
    }
}

/// A client's contact phone number, or none (`""`): at most 40 characters
/// (Unicode scalars), no control characters. The format is free ("+44 20
/// 7946 0958 ext. 12"), since staff type what the client gave them.
public struct PhoneNumber: Hashable, Sendable, CustomStringConvertible {
    /// The number, or `""` for none.
    public let rawValue: String

    /// Validates a phone number; `""` means none.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_PHONE`.
    public init(_ text: String, field: String = "phone") throws(PortalError) {
        let scalars = text.unicodeScalars
        guard scalars.count <= 40 else {
            throw .invalidArgument(
                .invalidPhone, "The phone number may be at most 40 characters.", field: field)
        }
        guard !scalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidArgument(
                .invalidPhone, "The phone number must not contain control characters.",
                field: field)
        }
        self.rawValue = text
    }

    /// The number.
    public var description: String { rawValue }
}

/// Changes to a client (`UpdateClient`): `nil` leaves a field as it is.
public struct ClientChanges: Hashable, Sendable {
    /// A new name.
    public var name: ClientName?
    /// A new e-mail address; ``EmailAddress/none`` clears it.
    public var email: EmailAddress?
    /// A new phone number; `""` clears it.
    public var phone: PhoneNumber?

    /// Creates a set of changes.
    public init(name: ClientName? = nil, email: EmailAddress? = nil, phone: PhoneNumber? = nil) {
        self.name = name
        self.email = email
        self.phone = phone
    }

    /// Whether nothing would change.
    public var isEmpty: Bool { name == nil && email == nil && phone == nil }
}

/// Whether a client has a portal login and whether it may be used (proto
/// `PortalLoginState`).
public enum PortalLoginState: String, Hashable, Sendable, CaseIterable {
    /// The client has no portal login.
    case none
    /// The client has a portal login that may log in.
    case active
    /// The client's portal login exists but staff disabled it.
    case disabled
}

/// The portal login linked to a client, as staff see it (never the password
/// hash).
public struct PortalLogin: Hashable, Sendable {
    /// The username.
    public let username: PortalUsername
    /// Whether it may log in and act.
    public let isActive: Bool

    /// Creates a login value (the store creates real logins).
    public init(username: PortalUsername, isActive: Bool) {
        self.username = username
        self.isActive = isActive
    }
}

/// A client as staff see it: contact details, the reschedule flag and the
/// state of its portal login (`GetClient`, `ListClients`).
public struct ClientDetails: Hashable, Sendable, Identifiable {
    /// The client.
    public let client: Client
    /// Its portal login, if it has one.
    public let login: PortalLogin?

    /// Creates a value.
    public init(client: Client, login: PortalLogin?) {
        self.client = client
        self.login = login
    }

    /// The client's id.
    public var id: ClientID { client.id }

    /// `none`, `active` or `disabled`.
    public var loginState: PortalLoginState {
        guard let login else { return .none }
        return login.isActive ? .active : .disabled
    }
}

/// Which page of clients to read (`ListClients`): clients in id order after
/// the position a page token names.
public struct ClientPageRequest: Hashable, Sendable {
    /// The page size used when the request says 0.
    public static let defaultPageSize = 50
    /// The largest page; larger requests are served this many (as Google's
    /// API guidelines, AIP-158, advise) rather than refused.
    public static let maximumPageSize = 500

    /// How many clients at most.
    public let pageSize: Int
    /// Return clients with an id greater than this one (0 for the first page).
    public let afterID: Int64

    /// Validates a request's `page_size` and `page_token`.
    ///
    /// - Throws: ``PortalError`` `invalidArgument`: `INVALID_PAGE_SIZE`
    ///   (field `page_size`) when negative, `INVALID_PAGE_TOKEN` (field
    ///   `page_token`) for a token this server did not issue.
    public init(pageSize: Int, pageToken: String) throws(PortalError) {
        guard pageSize >= 0 else {
            throw .invalidArgument(
                .invalidPageSize, "The page size must not be negative.", field: "page_size")
        }
        self.pageSize =
            pageSize == 0 ? Self.defaultPageSize : min(pageSize, Self.maximumPageSize)
        if pageToken.isEmpty {
            self.afterID = 0
        } else {
            guard let afterID = ClientPageRequest.decodeToken(pageToken) else {
                throw .invalidArgument(
                    .invalidPageToken, "The page token is not one this server issued.",
                    field: "page_token")
            }
            self.afterID = afterID
        }
    }

    /// The token of the page that starts after client `lastID`: opaque to
    /// callers (base64url of `clients:<id>`), so the scheme may change.
    public static func token(after lastID: ClientID) -> String {
        base64URLEncode(Array("clients:\(lastID.rawValue)".utf8))
    }

    private static func decodeToken(_ token: String) -> Int64? {
        guard let bytes = base64URLDecode(token),
            let text = String(validating: bytes, as: UTF8.self),
            text.hasPrefix("clients:"),
            let id = Int64(text.dropFirst("clients:".count)), id > 0,
            // One canonical spelling per id ("+5" or "05" were never issued).
            String(id) == text.dropFirst("clients:".count)
        else { return nil }
        return id
    }
}

/// One page of clients.
public struct ClientPage: Hashable, Sendable {
    /// The clients, by id.
    public let clients: [ClientDetails]
    /// The token of the next page; `nil` when this is the last one.
    public let nextPageToken: String?

    /// Creates a page.
    public init(clients: [ClientDetails], nextPageToken: String?) {
        self.clients = clients
        self.nextPageToken = nextPageToken
    }
}

/// The clients a bulk action applies to: 1–1000 positive ids, in the
/// caller's order (duplicates are kept and answered each time).
public struct ClientIDList: Hashable, Sendable {
    /// The most ids one bulk call may name.
    public static let maximumCount = 1000

    /// The ids, as given.
    public let ids: [ClientID]

    /// Validates a request's `client_ids`.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_CLIENT_IDS`
    ///   (field `client_ids`) for an empty list, more than 1000 ids or an id
    ///   that is not positive.
    public init(_ rawIDs: [Int64], field: String = "client_ids") throws(PortalError) {
        guard (1...ClientIDList.maximumCount).contains(rawIDs.count) else {
            throw .invalidArgument(
                .invalidClientIDs, "Name 1-1000 client ids.", field: field)
        }
        guard rawIDs.allSatisfy({ $0 > 0 }) else {
            throw .invalidArgument(
                .invalidClientIDs, "Every client id must be a positive number.", field: field)
        }
        self.ids = rawIDs.map(ClientID.init(rawValue:))
    }

    /// Wraps already valid ids.
    public init(_ ids: [ClientID]) throws(PortalError) {
        try self.init(ids.map(\.rawValue))
    }
}

/// What a bulk action did for one client (proto `ClientActionOutcome`).
public enum ClientActionOutcome: String, Hashable, Sendable, CaseIterable {
    /// The action was applied, or was already in effect.
    case done
    /// No client has this id.
    case notFound = "not_found"
    /// The client has no portal login to act on.
    case noLogin = "no_login"
}

/// The answer of a bulk action for one client, in request order.
public struct ClientActionResult: Hashable, Sendable {
    /// The client id as given.
    public let client: ClientID
    /// What happened.
    public let outcome: ClientActionOutcome

    /// Creates a result.
    public init(client: ClientID, outcome: ClientActionOutcome) {
        self.client = client
        self.outcome = outcome
    }
}
