import PortalDomain
import PortalMessages

// Domain values as wire messages. The two modules share some type names
// (`TimetableBlock`, `Booking`, …), so wire types are always module-qualified.

extension PortalMessages.ServiceDefaults {
    init(_ service: PortalDomain.ServiceDefaults) {
        self.init(
            serviceCode: service.code.rawValue, durationMinutes: Int32(service.durationMinutes),
            priceCents: service.priceCents, currency: service.currency, notes: service.notes)
    }
}

extension PortalMessages.TimetableBlock {
    init(_ block: PortalDomain.TimetableBlock) {
        self.init(
            blockId: block.id.rawValue, date: block.date.description,
            startTime: block.startTime.description, endTime: block.endTime.description,
            label: block.label.rawValue)
    }
}

extension PortalMessages.ServiceCapacity {
    init(_ usage: CapacityUsage) {
        self.init(
            serviceCode: usage.service.rawValue, capacity: Int32(usage.capacity),
            allowOverlap: usage.allowOverlap, booked: Int32(usage.booked), held: Int32(usage.held),
            remaining: Int32(usage.remaining))
    }
}

extension PortalMessages.BlockCapacities {
    init(_ day: PortalDomain.BlockCapacities) {
        self.init(
            block: PortalMessages.TimetableBlock(day.block),
            capacities: day.capacities.map(PortalMessages.ServiceCapacity.init))
    }
}

extension PortalMessages.AvailableBlock {
    init(_ available: PortalDomain.AvailableBlock) {
        self.init(
            block: PortalMessages.TimetableBlock(available.block),
            serviceCode: available.service.rawValue, remaining: Int32(available.remaining),
            priceCents: available.priceCents, currency: available.currency,
            durationMinutes: Int32(available.durationMinutes))
    }
}

extension PortalMessages.Booking {
    init(_ booking: PortalDomain.Booking) {
        self.init(
            bookingId: booking.id.rawValue, clientId: booking.client.rawValue,
            serviceCode: booking.service.rawValue, blockId: booking.block?.rawValue ?? 0,
            date: booking.date.description, startTime: booking.startTime.description,
            endTime: booking.endTime.description, blockLabel: booking.blockLabel,
            amountCents: booking.amountCents, currency: booking.currency,
            paymentIntentId: booking.paymentIntentID,
            status: PortalMessages.BookingStatus(booking.status),
            paymentState: PortalMessages.PaymentState(booking.paymentState),
            createdAt: booking.createdAt.unixSeconds)
    }
}

extension PortalMessages.BookingStatus {
    init(_ status: PortalDomain.BookingStatus) {
        switch status {
        case .confirmed: self = .confirmed
        case .cancelled: self = .cancelled
        }
    }
}

extension PortalMessages.PaymentState {
    init(_ state: PortalDomain.PaymentState) {
        switch state {
        case .capturePending: self = .capturePending
        case .captured: self = .captured
        case .canceled: self = .canceled
        case .refunded: self = .refunded
        }
    }
}
