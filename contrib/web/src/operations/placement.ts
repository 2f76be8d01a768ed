/** The bureau's placement: lottery commit and reveal, dry and stored runs, comparison, publication, seat warnings. */
import { graphql } from '../gql'

export const PlacementRunFieldsFragment = graphql(`
  fragment PlacementRunFields on PlacementRun {
    id seasonCode kind status seedCommitment summary createdAt
    results { applicationId receiptNo schoolCode tier reserved reason explanation }
  }
`)

export const LotteryQuery = graphql(`
  query Lottery($seasonCode: String!) {
    lottery(seasonCode: $seasonCode) {
      __typename
      ... on Lottery { seasonCode commitment committedAt seed revealedAt }
      ... on Error { code message field }
    }
  }
`)

export const CommitLotteryMutation = graphql(`
  mutation CommitLottery($input: CommitLotteryInput!) {
    commitLottery(input: $input) {
      __typename
      ... on Lottery { seasonCode commitment committedAt seed revealedAt }
      ... on Error { code message field }
    }
  }
`)

export const RevealLotteryMutation = graphql(`
  mutation RevealLottery($input: RevealLotteryInput!) {
    revealLottery(input: $input) {
      __typename
      ... on Lottery { seasonCode commitment committedAt seed revealedAt }
      ... on Error { code message field }
    }
  }
`)

export const RunPlacementMutation = graphql(`
  mutation RunPlacement($input: RunPlacementInput!) {
    runPlacement(input: $input) {
      __typename
      ...PlacementRunFields
      ... on Error { code message field }
    }
  }
`)

export const PlacementRunQuery = graphql(`
  query PlacementRun($id: ID!) {
    placementRun(id: $id, first: 100) {
      __typename
      ...PlacementRunFields
      ... on Error { code message field }
    }
  }
`)

export const ComparePlacementRunsQuery = graphql(`
  query ComparePlacementRuns($firstId: ID!, $secondId: ID!) {
    comparePlacementRuns(firstId: $firstId, secondId: $secondId) {
      __typename
      ... on PlacementComparison { moves { receiptNo before after whyBefore whyAfter } }
      ... on Error { code message field }
    }
  }
`)

export const PublishPlacementMutation = graphql(`
  mutation PublishPlacement($input: PublishPlacementInput!) {
    publishPlacement(input: $input) {
      __typename
      ... on PlacementPublished { runId admitted coordinating skipped }
      ... on Error { code message field }
    }
  }
`)

export const SeatWarningsQuery = graphql(`
  query SeatWarnings($seasonCode: String!) {
    seatWarnings(seasonCode: $seasonCode) {
      __typename
      ... on SeatWarningList { warnings { schoolCode schoolName plan verified ratio level levelLabel } }
      ... on Error { code message field }
    }
  }
`)
