/** The guardian's application (报名): drafts over several visits (start, update), then submission. */
import { graphql } from '../gql'

export const SubmitApplicationMutation = graphql(`
  mutation SubmitApplication($input: SubmitApplicationInput!) {
    submitApplication(input: $input) {
      __typename
      ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
      ... on Error { code message field }
    }
  }
`)

export const DraftFieldsFragment = graphql(`
  fragment DraftFields on ApplicationDraft {
    id seasonCode version childName childIdNumber guardianName guardianIdNumber guardianPhone
    relationship address townshipCode consent missing applicationId updatedAt
  }
`)

export const MyDraftsQuery = graphql(`
  query MyDrafts {
    myDrafts {
      __typename
      ... on DraftList { drafts { ...DraftFields } }
      ... on Error { code message field }
    }
  }
`)

export const StartApplicationMutation = graphql(`
  mutation StartApplication($input: StartApplicationInput!) {
    startApplication(input: $input) {
      __typename
      ...DraftFields
      ... on Error { code message field }
    }
  }
`)

export const UpdateApplicationMutation = graphql(`
  mutation UpdateApplication($input: UpdateApplicationInput!) {
    updateApplication(input: $input) {
      __typename
      ...DraftFields
      ... on Error { code message field }
    }
  }
`)
