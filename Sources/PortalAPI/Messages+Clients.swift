import PortalDomain
import PortalMessages

// Clients, logins and bulk results as wire messages.

extension PortalMessages.Client {
    init(_ details: ClientDetails) {
        self.init(
            clientId: details.client.id.rawValue, name: details.client.name,
            email: details.client.email, phone: details.client.phone,
            canSelfReschedule: details.client.canSelfReschedule,
            loginState: PortalMessages.PortalLoginState(details.loginState),
            username: details.login?.username.rawValue ?? "",
            createdAt: details.client.createdAt.unixSeconds)
    }
}

extension PortalMessages.PortalLoginState {
    init(_ state: PortalDomain.PortalLoginState) {
        switch state {
        case .none: self = .none
        case .active: self = .active
        case .disabled: self = .disabled
        }
    }
}

extension PortalMessages.ClientActionResult {
    init(_ result: PortalDomain.ClientActionResult) {
        let outcome: PortalMessages.ClientActionOutcome =
            switch result.outcome {
            case .done: .done
            case .notFound: .notFound
            case .noLogin: .noLogin
            }
        self.init(clientId: result.client.rawValue, outcome: outcome)
    }
}
