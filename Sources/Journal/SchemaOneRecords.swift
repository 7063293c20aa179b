/// Reading schema 1 plans (see ``JournalSchema``): the only code that reads a plan's prose, and only for records
/// written before plans were typed. A schema 2 record answers from its typed fields and never reaches it.
extension ActionPlan {
    /// What the plan was for: its `kind`, or for a schema 1 record the words its reason began with.
    public var planKind: PlanKind {
        if let kind { return kind }
        if reason.hasPrefix("assign to ") { return .assign }
        if reason.hasPrefix("release from ") { return .release }
        if reason.hasPrefix("enforce") { return .enforce }
        if reason.hasPrefix("[[sriov]]") { return .sriov }
        if reason.hasPrefix("roll back interrupted plan") { return .rollback }
        return .other
    }

    /// Whether the plan's story ends with a `plan_finished` record (schema 2 and later).
    public var endsWithPlanFinished: Bool { (schema ?? 1) >= 2 }
}

extension PlannedStep {
    /// The write the step makes: its `action` and `argument`, or for a schema 1 record parsed from `operation`.
    public var typedAction: (action: StepAction, argument: String?)? {
        if let action { return (action, argument) }
        return SchemaOne.parse(operation)
    }
}

extension StepStarted {
    public var typedAction: (action: StepAction, argument: String?)? {
        if let action { return (action, argument) }
        return SchemaOne.parse(operation)
    }
}

enum SchemaOne {
    /// `driver_override=vfio-pci`, `unbind e1000`, `bind vfio-pci`, `drivers_probe → none`, `sriov_numvfs=2`.
    static func parse(_ operation: String) -> (action: StepAction, argument: String?)? {
        func after(_ prefix: String) -> String? {
            operation.hasPrefix(prefix) ? String(operation.dropFirst(prefix.count)) : nil
        }
        if let driver = after("driver_override=") { return (.driverOverride, driver.isEmpty ? nil : driver) }
        if let driver = after("unbind ") { return (.unbind, driver) }
        if let driver = after("bind ") { return (.bind, driver) }
        if let driver = after("drivers_probe → ") { return (.driversProbe, driver == "none" ? nil : driver) }
        if let value = after("sriov_drivers_autoprobe=") { return (.sriovDriversAutoprobe, value) }
        if let value = after("sriov_numvfs=") { return (.sriovNumVFs, value) }
        return nil
    }
}
