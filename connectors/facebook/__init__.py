"""The `facebook_page` and `facebook_group` kinds, through facebook-sdk's Graph API client."""
