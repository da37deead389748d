import Foundation
import MaestroAuthModel
import Testing

@Suite("Key rotation schedule (pure)")
struct KeyRotationScheduleTests {
  let schedule = KeyRotationSchedule(rotationPeriod: .seconds(86_400), verificationWindow: .seconds(7 * 86_400))
  let t0 = Date(timeIntervalSince1970: 1_700_000_000)

  @Test("an empty key set gets an active key and a pre-published next key")
  func empty() {
    let steps = self.schedule.plan(keys: [], now: self.t0)
    #expect(steps == [
      .create(state: .active, activatesAt: self.t0, retiresAt: self.t0 + .seconds(86_400)),
      .create(state: .next, activatesAt: self.t0 + .seconds(86_400), retiresAt: nil),
    ])
  }

  @Test("nothing is due while the active key is inside its period")
  func steady() {
    let keys = [
      KeyRotationSchedule.Key(kid: "a", state: .active, activatesAt: self.t0, retiresAt: self.t0 + .seconds(86_400)),
      KeyRotationSchedule.Key(kid: "b", state: .next, activatesAt: self.t0 + .seconds(86_400)),
    ]
    #expect(self.schedule.plan(keys: keys, now: self.t0 + .seconds(3_600)).isEmpty)
    #expect(self.schedule.nextDueDate(keys: keys) == self.t0 + .seconds(86_400))
  }

  @Test("at the end of its period the active key retires and the published next key signs")
  func rotation() {
    let now = self.t0 + .seconds(86_400)
    let keys = [
      KeyRotationSchedule.Key(kid: "a", state: .active, activatesAt: self.t0, retiresAt: now),
      KeyRotationSchedule.Key(kid: "b", state: .next, activatesAt: now),
    ]
    #expect(self.schedule.plan(keys: keys, now: now) == [
      .retire(kid: "a", at: now, purgeAt: now + .seconds(7 * 86_400)),
      .activate(kid: "b", at: now, retiresAt: now + .seconds(86_400)),
      .create(state: .next, activatesAt: now + .seconds(86_400), retiresAt: nil),
    ])
  }

  @Test("a retired key is purged only after its verification window")
  func purge() {
    let purgeAt = self.t0 + .seconds(7 * 86_400)
    let keys = [
      KeyRotationSchedule.Key(kid: "old", state: .retired, activatesAt: self.t0.addingTimeInterval(-86_400), retiresAt: self.t0, purgeAt: purgeAt),
      KeyRotationSchedule.Key(kid: "a", state: .active, activatesAt: self.t0, retiresAt: self.t0 + .seconds(30 * 86_400)),
      KeyRotationSchedule.Key(kid: "b", state: .next, activatesAt: self.t0 + .seconds(30 * 86_400)),
    ]
    #expect(self.schedule.plan(keys: keys, now: purgeAt.addingTimeInterval(-1)).isEmpty)
    #expect(self.schedule.plan(keys: keys, now: purgeAt) == [.purge(kid: "old")])
  }

  @Test("emergency rotation revokes the compromised kid and signs with a fresh key at once")
  func emergency() throws {
    let now = self.t0 + .seconds(60)
    let keys = [
      KeyRotationSchedule.Key(kid: "a", state: .active, activatesAt: self.t0, retiresAt: self.t0 + .seconds(86_400)),
      KeyRotationSchedule.Key(kid: "b", state: .next, activatesAt: self.t0 + .seconds(86_400)),
    ]
    let steps = try #require(self.schedule.planEmergency(keys: keys, compromised: "a", now: now))
    #expect(steps == [.revoke(kid: "a", at: now), .create(state: .active, activatesAt: now, retiresAt: now + .seconds(86_400))])
    #expect(self.schedule.planEmergency(keys: keys, compromised: "zzz", now: now) == nil)
  }

  @Test("emergency rotation of the next key also replaces the next key")
  func emergencyNext() throws {
    let keys = [
      KeyRotationSchedule.Key(kid: "a", state: .active, activatesAt: self.t0, retiresAt: self.t0 + .seconds(86_400)),
      KeyRotationSchedule.Key(kid: "b", state: .next, activatesAt: self.t0 + .seconds(86_400)),
    ]
    let steps = try #require(self.schedule.planEmergency(keys: keys, compromised: "b", now: self.t0))
    #expect(steps.first == .revoke(kid: "b", at: self.t0))
    #expect(steps.contains(.retire(kid: "a", at: self.t0, purgeAt: self.t0 + .seconds(7 * 86_400))))
    #expect(steps.last == .create(state: .next, activatesAt: self.t0 + .seconds(86_400), retiresAt: nil))
  }

  @Test("a manual scheduled rotation promotes the next key now")
  func manual() {
    let keys = [
      KeyRotationSchedule.Key(kid: "a", state: .active, activatesAt: self.t0, retiresAt: self.t0 + .seconds(86_400)),
      KeyRotationSchedule.Key(kid: "b", state: .next, activatesAt: self.t0 + .seconds(86_400)),
    ]
    let steps = self.schedule.planManualRotation(keys: keys, now: self.t0 + .seconds(10))
    #expect(steps.contains(.activate(kid: "b", at: self.t0 + .seconds(10), retiresAt: self.t0 + .seconds(10 + 86_400))))
  }
}
