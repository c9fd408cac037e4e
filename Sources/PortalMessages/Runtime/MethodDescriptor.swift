/// One RPC method of the contract, typed by its request and response messages.
///
/// The generated `HealthMethods`, `PortalMethods` and `AdminMethods` hold one
/// descriptor per `rpc`:
///
/// ```swift
/// let method = AdminMethods.upsertService
/// method.fullName   // "portal.v1.Admin/UpsertService"
/// let request = try method.requestType.init(serializedBytes: payload)
/// ```
public struct MethodDescriptor<Request: ProtoMessage, Response: ProtoMessage>: Sendable, Hashable,
    CustomStringConvertible
{
    /// The name clients put in `RequestEnvelope.method`, e.g. `"portal.v1.Admin/UpsertService"`.
    public let fullName: String
    /// The fully-qualified service, e.g. `"portal.v1.Admin"`.
    public let service: String
    /// The method's name within its service, e.g. `"UpsertService"`.
    public let name: String

    /// The descriptor of method `name` of `service`; `fullName` is `"\(service)/\(name)"`.
    public init(service: String, name: String) {
        self.service = service
        self.name = name
        self.fullName = service + "/" + name
    }

    /// The request message type.
    public var requestType: Request.Type { Request.self }
    /// The response message type.
    public var responseType: Response.Type { Response.self }

    /// The full name.
    public var description: String { fullName }
}
