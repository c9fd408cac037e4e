// The adapter speaks the port's vocabulary (`PaymentGateway`, `PaymentIntent`,
// `PaymentGatewayFailure`), so users of `StripeClient` get it with one import,
// as NIOPosix users get NIOCore.
@_exported import PortalPayments
