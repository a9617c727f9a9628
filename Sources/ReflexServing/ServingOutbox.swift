/// Where the serving core's output goes, as it happens: `reflexd` sends replies on its sockets
/// and records metrics; a test keeps the events to look at them.
package protocol ServingOutbox: AnyObject {
    func post(_ event: ServingEvent)
}
