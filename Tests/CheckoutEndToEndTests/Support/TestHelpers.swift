import Foundation
import LocalStripeHarness
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

extension LocalStripe {
    /// Changes a PaymentIntent's amount at localstripe, as a buggy or hostile
    /// integration could at Stripe. (A JSON body: localstripe would store a
    /// form-encoded amount as text.)
    func updateAmount(of paymentIntentID: String, to amount: Int) async throws {
        var request = URLRequest(url: URL(string: "\(baseURL)/v1/payment_intents/\(paymentIntentID)")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(LocalStripe.secretKeyValue)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["amount": amount])
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw URLError(.badServerResponse)
        }
    }
}

/// A TCP port on 127.0.0.1 with nothing listening (it was free a moment ago).
enum ClosedPort {
    static func make() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
