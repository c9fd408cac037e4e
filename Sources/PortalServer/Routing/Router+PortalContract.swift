import PortalMessages

extension Router {
    /// Every method of the Portal contract (`portal.v1.Health`, `portal.v1.Portal`,
    /// `portal.v1.Admin`), from the generated descriptors.
    public static var portalMethodNames: [String] {
        HealthMethods.allFullNames + PortalMethods.allFullNames + AdminMethods.allFullNames
    }

    /// A router that knows the whole Portal contract and serves
    /// `portal.v1.Health/Check`; every other method answers UNIMPLEMENTED
    /// (NOT_IMPLEMENTED) until a handler is registered for it.
    ///
    /// ```swift
    /// var router = Router.portalContract()
    /// router.register(AdminMethods.getDay) { request, context in … }
    /// ```
    public static func portalContract() -> Router {
        var router = Router(knownMethods: portalMethodNames)
        router.registerHealthService()
        return router
    }
}
