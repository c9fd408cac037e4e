import PortalMessages
import XCTest

final class MethodDescriptorTests: XCTestCase {
    func testDescriptorsNameServiceAndMethod() {
        let method = AdminMethods.upsertService
        XCTAssertEqual(method.fullName, "portal.v1.Admin/UpsertService")
        XCTAssertEqual(method.service, "portal.v1.Admin")
        XCTAssertEqual(method.name, "UpsertService")
        XCTAssertEqual(HealthMethods.check.fullName, "portal.v1.Health/Check")
        XCTAssertEqual(PortalMethods.listBlocks.fullName, "portal.v1.Portal/ListBlocks")
        XCTAssertEqual(PortalMethods.login.description, "portal.v1.Portal/Login")
    }

    func testDescriptorsCarryTheMessageTypes() {
        let check: MethodDescriptor<HealthCheckRequest, HealthCheckResponse> = HealthMethods.check
        XCTAssertTrue(check.requestType == HealthCheckRequest.self)
        let reschedule: MethodDescriptor<RescheduleBookingRequest, RescheduleBookingResponse> =
            PortalMethods.rescheduleBooking
        XCTAssertEqual(reschedule.name, "RescheduleBooking")
        let flag: MethodDescriptor<SetCanSelfRescheduleRequest, SetCanSelfRescheduleResponse> =
            AdminMethods.setCanSelfReschedule
        XCTAssertEqual(flag.fullName, "portal.v1.Admin/SetCanSelfReschedule")
    }

    func testAllFullNamesListEveryMethodOfSPEC() {
        XCTAssertEqual(HealthMethods.allFullNames, ["portal.v1.Health/Check"])
        XCTAssertEqual(
            PortalMethods.allFullNames,
            [
                "Login", "Logout", "ListBlocks", "StartCheckout", "FinalizeCheckout", "CancelCheckout",
                "ListMyBookings", "RescheduleBooking",
            ].map { "portal.v1.Portal/" + $0 })
        XCTAssertEqual(
            AdminMethods.allFullNames,
            [
                "UpsertService", "ListServices", "CreateBlock", "UpdateBlock", "DeleteBlock", "SetCapacity",
                "RemoveCapacity", "GetDay", "CopyDay", "ListBookings", "CreateClient", "UpdateClient", "GetClient",
                "ListClients", "CreatePortalLogin", "DisablePortalLogin", "EnablePortalLogin", "RemovePortalLogin",
                "SetCanSelfReschedule", "GetMetrics",
            ].map { "portal.v1.Admin/" + $0 })
        XCTAssertEqual(AdminMethods.allFullNames.last, AdminMethods.getMetrics.fullName)
    }
}
