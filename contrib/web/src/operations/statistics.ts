/** Figures within the caller's scope. Seat warnings wait for seatWarnings. */
import { graphql } from '../gql'

export const StatisticsQuery = graphql(`
  query Statistics($seasonCode: String) {
    statistics(seasonCode: $seasonCode) {
      __typename
      ... on Statistics {
        scope seasonCode asOf total
        byStatus { key label count }
        byTownship { key label count }
        bySchool { key label count }
        byChannel { key label count }
        verification { source checks matched mismatched undecided passRate }
        backlog { status statusLabel count underOneDay oneToThreeDays threeToSevenDays sevenDaysOrMore oldestSince }
      }
      ... on Error { code message field }
    }
  }
`)
