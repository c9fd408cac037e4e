import PortalDomain
import PortalMessages
import PortalServer
import PortalStore

/// The timetable methods: services, blocks, capacities, days (Admin), and the
/// client's view of a day (`Portal/ListBlocks`).
struct TimetableAPI: Sendable {
    let store: PortalStore
    let authenticator: Authenticator

    func register(on router: inout Router) {
        router.registerAdmin(AdminMethods.upsertService, authenticator: authenticator) { request in
            guard let service = request.service else {
                throw PortalError.invalidArgument(
                    .invalidServiceCode, "The service to upsert is missing.", field: "service")
            }
            let defaults = try PortalDomain.ServiceDefaults(
                code: try ServiceCode(service.serviceCode),
                durationMinutes: Int(service.durationMinutes), priceCents: service.priceCents,
                currency: service.currency, notes: service.notes)
            let upsert = try await store.upsertService(defaults)
            return UpsertServiceResponse(
                service: PortalMessages.ServiceDefaults(upsert.service), created: upsert.created)
        }

        router.registerAdmin(AdminMethods.listServices, authenticator: authenticator) { _ in
            ListServicesResponse(
                services: try await store.listServices().map(PortalMessages.ServiceDefaults.init))
        }

        router.registerAdmin(AdminMethods.createBlock, authenticator: authenticator) { request in
            let block = try await store.createBlock(
                on: try LocalDate(request.date),
                times: try BlockTimes(start: request.startTime, end: request.endTime),
                label: try BlockLabel(request.label))
            return CreateBlockResponse(block: PortalMessages.TimetableBlock(block))
        }

        router.registerAdmin(AdminMethods.updateBlock, authenticator: authenticator) { request in
            let block = try await store.updateBlock(
                try BlockID(validating: request.blockId),
                start: try request.startTime.map { try TimeOfDay($0, field: "start_time") },
                end: try request.endTime.map { try TimeOfDay($0, field: "end_time") },
                label: try request.label.map { try BlockLabel($0) })
            return UpdateBlockResponse(block: PortalMessages.TimetableBlock(block))
        }

        router.registerAdmin(AdminMethods.deleteBlock, authenticator: authenticator) { request in
            try await store.deleteBlock(try BlockID(validating: request.blockId))
            return DeleteBlockResponse()
        }

        router.registerAdmin(AdminMethods.setCapacity, authenticator: authenticator) { request in
            let usage = try await store.setCapacity(
                try BlockCapacity(
                    block: try BlockID(validating: request.blockId),
                    service: try ServiceCode(request.serviceCode),
                    capacity: Int(request.capacity), allowOverlap: request.allowOverlap))
            return SetCapacityResponse(capacity: PortalMessages.ServiceCapacity(usage))
        }

        router.registerAdmin(AdminMethods.removeCapacity, authenticator: authenticator) { request in
            try await store.removeCapacity(
                of: try ServiceCode(request.serviceCode),
                from: try BlockID(validating: request.blockId))
            return RemoveCapacityResponse()
        }

        router.registerAdmin(AdminMethods.getDay, authenticator: authenticator) { request in
            let date = try LocalDate(request.date)
            return GetDayResponse(
                date: date.description,
                blocks: try await store.day(date).map(PortalMessages.BlockCapacities.init),
                timeZone: store.calendar.identifier)
        }

        router.registerAdmin(AdminMethods.copyDay, authenticator: authenticator) { request in
            let copy = try await store.copyDay(
                from: try LocalDate(request.fromDate, field: "from_date"),
                to: try LocalDate(request.toDate, field: "to_date"),
                replace: request.replace)
            return CopyDayResponse(
                blocks: copy.blocks.map(PortalMessages.BlockCapacities.init),
                replacedBlocks: Int32(copy.replacedBlocks))
        }

        router.registerAdmin(AdminMethods.listBookings, authenticator: authenticator) { request in
            ListBookingsResponse(
                bookings: try await store.bookings(on: try LocalDate(request.date))
                    .map(PortalMessages.Booking.init))
        }

        // ListBlocks is the read path every portal page hits: answered on
        // the event loop from encoded answers kept per request while the
        // store says they are current (no write since, no counted hold
        // expired); a miss reads the store and keeps the answer. The key is
        // the request as this server encodes it once it has validated, and
        // a call is looked up by the bytes it sent: any protobuf encoder
        // writes these two string fields the same way, so a hit costs no
        // decoding; other bytes simply miss and take the full path.
        let answers = GenerationCache<AvailabilityKey, KeptAvailability>(limit: 4096)
        let generations = store.availabilityGenerations
        router.registerPortal(
            PortalMethods.listBlocks, authenticator: authenticator,
            rawInline: { payload, _, _ in
                answers.value(for: AvailabilityKey(requestBytes: payload), now: store.clock.now.unixSeconds) {
                    generations.current($0.scope)
                }.map { EncodedResponse(encoded: $0.encoded) }
            },
            handler: { request, _, _ in
                let snapshot = try await store.availabilitySnapshot(
                    on: try LocalDate(request.date), for: try ServiceCode(request.serviceCode))
                let response = ListBlocksResponse(
                    blocks: snapshot.blocks.map(PortalMessages.AvailableBlock.init),
                    timeZone: store.calendar.identifier)
                answers.insert(
                    KeptAvailability(encoded: response.serializedBytes(), scope: snapshot.scope),
                    for: AvailabilityKey(requestBytes: request.serializedBytes()),
                    generation: snapshot.generation, validUntil: snapshot.validUntil?.unixSeconds ?? .max)
                return response
            })
    }
}
