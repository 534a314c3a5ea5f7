/** What an organization used over recent days: the console's overview. */
export {};
