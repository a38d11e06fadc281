# frozen_string_literal: true

# The libraries rake.rb runs Scalelite's code on (rake.rb's header says which and why), in one list:
# rake.rb requires them, and rakeServer.rb loads them once so that each call forks instead of loading
# them again (about 0.5 s a call). ActiveRecord's are loaded by rake.rb only with a database.
LIBRARIES = %w[active_support active_support/all active_model redis connection_pool nokogiri net/http rake yaml].freeze
DATABASE_LIBRARIES = %w[active_record pg jwt tmpdir].freeze
