import Foundation
@testable import MaestroMetrics
import Testing

@Suite("Alert lifecycle state machine (pure)")
struct AlertLifecycleTests {
  let t0 = Date(timeIntervalSince1970: 1_000_000)

  @Test("a true condition opens PENDING when `for` is set, FIRING at once when it is zero")
  func opens() {
    #expect(AlertLifecycle.next(active: nil, condition: true, forDuration: .seconds(120), now: self.t0) == .openPending)
    #expect(AlertLifecycle.next(active: nil, condition: true, forDuration: .zero, now: self.t0) == .openFiring)
    #expect(AlertLifecycle.next(active: nil, condition: false, forDuration: .zero, now: self.t0) == .none)
  }

  @Test("PENDING fires only once the condition has held for `for`")
  func pendingToFiring() {
    let pending = AlertLifecycle.Active(state: .pending, pendingSince: self.t0)
    #expect(AlertLifecycle.next(active: pending, condition: true, forDuration: .seconds(120), now: self.t0.addingTimeInterval(119)) == .none)
    #expect(AlertLifecycle.next(active: pending, condition: true, forDuration: .seconds(120), now: self.t0.addingTimeInterval(120)) == .fire)
  }

  @Test("PENDING that clears resolves silently; FIRING that clears resolves and notifies")
  func resolution() {
    let pending = AlertLifecycle.Active(state: .pending, pendingSince: self.t0)
    let firing = AlertLifecycle.Active(state: .firing, pendingSince: self.t0)
    #expect(AlertLifecycle.next(active: pending, condition: false, forDuration: .seconds(60), now: self.t0) == .cancelPending)
    #expect(AlertLifecycle.Transition.cancelPending.notifies == false)
    #expect(AlertLifecycle.next(active: firing, condition: false, forDuration: .zero, now: self.t0) == .resolve)
    #expect(AlertLifecycle.Transition.resolve.notifies)
    #expect(AlertLifecycle.next(active: firing, condition: true, forDuration: .zero, now: self.t0) == .none)
  }

  @Test("fingerprints are stable under label order and differ by any label")
  func fingerprints() {
    let a = Fingerprint.of(["slo": "x", "severity": "critical", "tenant": "t"])
    let b = Fingerprint.of(["tenant": "t", "slo": "x", "severity": "critical"])
    #expect(a == b)
    #expect(a.count == 16)
    #expect(a != Fingerprint.of(["slo": "x", "severity": "warning", "tenant": "t"]))
    #expect(Fingerprint.of(["a": "bc"]) != Fingerprint.of(["ab": "c"]))
  }

  @Test("label matchers: equality, negation and fully anchored regexes")
  func matchers() throws {
    let labels = ["slo": "hello-world", "severity": "critical"]
    #expect(try LabelMatcher(name: "slo", op: .equal, value: "hello-world").matches(labels))
    #expect(try !LabelMatcher(name: "slo", op: .notEqual, value: "hello-world").matches(labels))
    #expect(try LabelMatcher(name: "slo", op: .regex, value: "hello-.*").matches(labels))
    #expect(try !LabelMatcher(name: "slo", op: .regex, value: "hello").matches(labels))
    #expect(try LabelMatcher(name: "team", op: .equal, value: "").matches(labels))
    #expect(throws: MatcherError.self) { try LabelMatcher(name: "slo", op: .regex, value: "(") }
  }
}
