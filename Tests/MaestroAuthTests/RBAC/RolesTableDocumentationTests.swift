import Foundation
import MaestroAuth
import MaestroTestSupport
import Testing

@Suite("README roles table")
struct RolesTableDocumentationTests {
  @Test("the README's roles table is the one generated from the enforced matrix")
  func readmeMatchesMatrix() throws {
    let readme = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/README.md", encoding: .utf8)
    #expect(readme.contains(RolesTable.markdown()), "regenerate it with `auth-gateway roles-table`")
  }
}
