import PortalMessages

/// One slot of the checkout scenarios. Each slot owns one (client, block,
/// service) combination, so that no two slots in flight share a hold (a
/// second StartCheckout of the same client, block and service would return
/// the same hold).
///
/// - `checkout`: StartCheckout, then FinalizeCheckout of that hold and its
///   PaymentIntent (the simulated gateway approves it): one operation per
///   pair, which books one slot.
/// - `start-checkout`: StartCheckout (one operation), then CancelCheckout of
///   the hold (not counted), so that capacity never runs out and every
///   StartCheckout takes a fresh hold.
/// - `mixed`: before each operation, 90 % of the time a ListBlocks (one
///   operation), else a checkout pair.
final class CheckoutSlot: SlotDriver {
    enum Kind { case checkout, startOnly, mixed }

    private enum Step {
        case start
        case listBlocks
        case finalize(token: String, paymentIntent: String)
        case cancel(token: String)
    }

    private let kind: Kind
    private let frames: RequestFrames
    private let session: String
    private let block: Int64
    private let service: String
    private let listFrame: [UInt8]
    private var step = Step.start
    private var random: UInt64

    init(
        kind: Kind, frames: RequestFrames, session: String, block: Int64, service: String,
        listFrame: [UInt8], seed: UInt64
    ) {
        self.kind = kind
        self.frames = frames
        self.session = session
        self.block = block
        self.service = service
        self.listFrame = listFrame
        self.random = seed | 1
    }

    func appendRequest(id: UInt64, to buffer: inout [UInt8]) {
        if case .start = step, kind == .mixed, nextRandom() % 10 != 0 {
            step = .listBlocks
        }
        switch step {
        case .listBlocks:
            // Pre-encoded with this slot's id (ids are fixed per slot).
            buffer.append(contentsOf: listFrame)
        case .start:
            buffer.append(
                contentsOf: frames.frame(
                    id: id, method: PortalMethods.startCheckout.fullName, token: session,
                    payload: StartCheckoutRequest(serviceCode: service, blockId: block).serializedBytes()))
        case .finalize(let token, let paymentIntent):
            buffer.append(
                contentsOf: frames.frame(
                    id: id, method: PortalMethods.finalizeCheckout.fullName, token: session,
                    payload: FinalizeCheckoutRequest(holdToken: token, paymentIntentId: paymentIntent)
                        .serializedBytes()))
        case .cancel(let token):
            buffer.append(
                contentsOf: frames.frame(
                    id: id, method: PortalMethods.cancelCheckout.fullName, token: session,
                    payload: CancelCheckoutRequest(holdToken: token).serializedBytes()))
        }
    }

    var currentStep: Int? {
        switch step {
        case .start: 0
        case .finalize: 1
        case .listBlocks: 2
        case .cancel: 3
        }
    }

    func received(code: Int32, payload: UnsafeRawBufferPointer) -> Bool {
        switch step {
        case .listBlocks:
            step = .start
            return true
        case .start:
            guard code == 0, let started = try? StartCheckoutResponse(serializedBytes: payload) else {
                step = .start
                return kind == .startOnly
            }
            if kind == .startOnly {
                step = .cancel(token: started.holdToken)
                return true
            }
            step = .finalize(token: started.holdToken, paymentIntent: started.paymentIntentId)
            return false
        case .finalize:
            step = .start
            return true
        case .cancel:
            step = .start
            return false
        }
    }

    private func nextRandom() -> UInt64 {
        // xorshift64: cheap, and deterministic per slot.
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }
}

/// The slots of one connection for the checkout scenarios.
func checkoutSlots(
    scenario: Scenario, connection: Int, inFlight: Int, frames: RequestFrames, fixture: BenchFixture
) -> [any SlotDriver] {
    let kind: CheckoutSlot.Kind =
        switch scenario {
        case .startCheckout: .startOnly
        case .mixed: .mixed
        default: .checkout
        }
    let combinations = fixture.blockIDs.count * fixture.services.count
    return (0..<inFlight).map { slot -> any SlotDriver in
        let global = connection * inFlight + slot
        let combination = global % combinations
        return CheckoutSlot(
            kind: kind, frames: frames,
            session: fixture.sessionTokens[(global / combinations) % fixture.sessionTokens.count],
            block: fixture.blockIDs[combination / fixture.services.count],
            service: fixture.services[combination % fixture.services.count],
            listFrame: frames.listBlocks(id: UInt64(slot + 1), fixture: fixture, variant: global),
            seed: UInt64(global + 1) &* 0x9E37_79B9_7F4A_7C15)
    }
}
