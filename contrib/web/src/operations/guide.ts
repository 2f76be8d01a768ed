/** Anonymous guidance: a township's service guide (办事指南) and the catchment of an address (学区查询). */
import { graphql } from '../gql'

export const ServiceGuideQuery = graphql(`
  query ServiceGuide($townshipCode: String!) {
    serviceGuide(townshipCode: $townshipCode) {
      __typename
      ... on ServiceGuide {
        seasonCode seasonName townshipCode townshipName conditions opensAt closesAt promiseDays online fees
        legalBasis notes
        materials { code name when }
        steps { name description timeLimit }
        places { name address hours }
        contacts { name phone assumed }
      }
      ... on Error { code message field }
    }
  }
`)

export const SchoolsForAddressQuery = graphql(`
  query SchoolsForAddress($townshipCode: String!, $village: String, $estate: String) {
    schoolsForAddress(townshipCode: $townshipCode, village: $village, estate: $estate) {
      __typename
      ... on Catchment {
        seasonCode townshipCode townshipName
        matched { townshipCode village estate schools { code name public plan } }
        areas { townshipCode village estate schools { code name public plan } }
      }
      ... on Error { code message field }
    }
  }
`)
