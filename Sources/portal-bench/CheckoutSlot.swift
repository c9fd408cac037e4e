import PortalMessages

/// One slot of the checkout scenarios. Each slot owns one (client, block,
/// service) combination, so that no two slots in flight share a hold (a
/// second StartCheckout of the same client, block and service would return
/// the same hold) — or, when there are fewer slots than (block, service)
/// combinations, a set of its own that it books in turn, one pair each, so
/// that a fast run with few slots (1×1: ≈ 850 pairs/s) does not fill one
/// (block, service) (10,000 slots at most) and get `CAPACITY_FULL`.
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
    /// The (block, service) combinations this slot books, in turn.
    private let places: [(block: Int64, service: String)]
    private var nextPlace = 0
    private let listFrame: [UInt8]
    private var step = Step.start
    private var random: UInt64

    init(
        kind: Kind, frames: RequestFrames, session: String, places: [(block: Int64, service: String)],
        listFrame: [UInt8], seed: UInt64
    ) {
        precondition(!places.isEmpty, "a slot books at least one (block, service)")
        self.kind = kind
        self.frames = frames
        self.session = session
        self.places = places
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
            let place = places[nextPlace]
            buffer.append(
                contentsOf: frames.frame(
                    id: id, method: PortalMethods.startCheckout.fullName, token: session,
                    payload: StartCheckoutRequest(serviceCode: place.service, blockId: place.block)
                        .serializedBytes()))
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
            nextPlace = (nextPlace + 1) % places.count
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
    scenario: Scenario, connection: Int, connections: Int, inFlight: Int, frames: RequestFrames,
    fixture: BenchFixture
) -> [any SlotDriver] {
    let kind: CheckoutSlot.Kind =
        switch scenario {
        case .startCheckout: .startOnly
        case .mixed: .mixed
        default: .checkout
        }
    let combinations = fixture.blockIDs.count * fixture.services.count
    let allSlots = connections * inFlight
    return (0..<inFlight).map { slot -> any SlotDriver in
        let global = connection * inFlight + slot
        // Fewer slots than combinations: slot g books g, g + allSlots, … in
        // turn (sets that never meet); otherwise the one combination g.
        let owned =
            allSlots < combinations
            ? Array(stride(from: global, to: combinations, by: allSlots)) : [global % combinations]
        return CheckoutSlot(
            kind: kind, frames: frames,
            session: fixture.sessionTokens[(global / combinations) % fixture.sessionTokens.count],
            places: owned.map { combination in
                (fixture.blockIDs[combination / fixture.services.count],
                 fixture.services[combination % fixture.services.count])
            },
            listFrame: frames.listBlocks(id: UInt64(slot + 1), fixture: fixture, variant: global),
            seed: UInt64(global + 1) &* 0x9E37_79B9_7F4A_7C15)
    }
}
