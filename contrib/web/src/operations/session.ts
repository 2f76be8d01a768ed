/** Who is signed in, and signing in and out (staff passwords; guardians via /auth). */
import { graphql } from '../gql'

export const MeQuery = graphql(`
  query Me {
    me {
      __typename
      ... on Me {
        id role roleLabel name townshipCode townshipName schoolCode schoolName
        guardian { name idNumber phone }
      }
      ... on Error { code message field }
    }
  }
`)

export const StaffSignInMutation = graphql(`
  mutation StaffSignIn($input: StaffSignInInput!) {
    staffSignIn(input: $input) {
      __typename
      ... on StaffSession { token expiresAt username name role regionCode schoolCode }
      ... on Error { code message field }
    }
  }
`)

export const StaffSignOutMutation = graphql(`
  mutation StaffSignOut {
    staffSignOut { __typename ... on StaffSignedOut { ok } ... on Error { code message } }
  }
`)

export const GuardianSignOutMutation = graphql(`
  mutation GuardianSignOut {
    guardianSignOut {
      __typename
      ... on GuardianSignedOut { ok providerLogoutUrl }
      ... on Error { code message }
    }
  }
`)
